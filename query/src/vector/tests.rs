use std::sync::Arc;

use proptest::prelude::*;

use super::*;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        (-1e9f64..1e9).prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        "[a-z]{0,6}".prop_map(Value::String),
        (0i64..5).prop_map(|n| Value::Json(serde_json::json!({ "n": n }))),
    ]
}

/// Values of one type (or null), like a typed column's.
fn column() -> impl Strategy<Value = Vec<Value>> {
    prop_oneof![
        prop::collection::vec(
            prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::Int)],
            0..70
        ),
        prop::collection::vec(
            prop_oneof![Just(Value::Null), "[a-z]{0,4}".prop_map(Value::String)],
            0..70
        ),
        prop::collection::vec(value(), 0..70),
    ]
}

proptest! {
    #[test]
    fn vectors_give_back_what_was_pushed(values in column()) {
        let v = Vector::from_values(&values);
        prop_assert_eq!(v.len(), values.len());
        for (i, x) in values.iter().enumerate() {
            prop_assert_eq!(&v.value(i).unwrap(), x);
            prop_assert_eq!(v.is_null(i), x.is_null());
        }
    }

    #[test]
    fn gather_and_compact_keep_the_selected_rows(values in column(), keep in prop::collection::vec(any::<bool>(), 70)) {
        let v = Arc::new(Vector::from_values(&values));
        let sel: Vec<u32> = (0..values.len() as u32).filter(|&i| keep[i as usize]).collect();
        let chunk = Chunk::new(vec![v], values.len()).with_selection(sel.clone().into());
        prop_assert_eq!(chunk.count(), sel.len());
        let rows = chunk.to_rows().unwrap();
        let dense = chunk.compact().unwrap();
        prop_assert!(dense.sel.is_none());
        prop_assert_eq!(&dense.to_rows().unwrap(), &rows);
        let want: Vec<Vec<Value>> = sel.iter().map(|&i| vec![values[i as usize].clone()]).collect();
        prop_assert_eq!(rows, want);
    }

    #[test]
    fn bitmaps_agree_with_a_vec_of_bools(bits in prop::collection::vec(any::<bool>(), 0..200)) {
        let mut b = Bitmap::with_capacity(bits.len());
        for &x in &bits {
            b.push(x);
        }
        prop_assert_eq!(b.len(), bits.len());
        prop_assert_eq!(b.count_ones(), bits.iter().filter(|&&x| x).count());
        for (i, &x) in bits.iter().enumerate() {
            prop_assert_eq!(b.get(i), x);
        }
        let mut c = Bitmap::all_clear(bits.len());
        for (i, &x) in bits.iter().enumerate() {
            c.set(i, x);
        }
        prop_assert_eq!(&c, &b);
        prop_assert_eq!(Bitmap::all_set(bits.len()).all(), true);
    }
}

#[test]
fn typed_columns_stay_typed_and_mixed_ones_fall_back() {
    let ints = Vector::from_values(&[Value::Null, Value::Int(3), Value::Null]);
    assert!(matches!(ints.data(), Data::Int(_)));
    assert!(ints.is_null(0) && !ints.is_null(1));
    let mixed = Vector::from_values(&[Value::Int(1), Value::Null, Value::String("x".into())]);
    assert!(matches!(mixed.data(), Data::Any(_)));
    assert_eq!(mixed.value(0).unwrap(), Value::Int(1));
    assert_eq!(mixed.value(1).unwrap(), Value::Null);
    let nulls = Vector::from_values(&[Value::Null, Value::Null]);
    assert!(nulls.is_null(0) && nulls.is_null(1));
    let mut b = VectorBuilder::typed(crate::ast::ColumnType::Float, 2);
    b.push_null();
    let v = b.finish();
    assert!(matches!(v.data(), Data::Float(_)) && v.is_null(0));
}
