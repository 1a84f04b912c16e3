//! Parser tests for function calls, `case`, `cast`, `::`, `%` and `||`.

use crate::ast::{BinaryOp, ColumnType, Expr, Literal, Statement};
use crate::parser::parse;
use crate::{Error, ErrorCode};

/// The expression of `select EXPR from t`.
fn expr(text: &str) -> Expr {
    match parse(&format!("select {text} from t")) {
        Ok(Statement::Select(s)) => s.items[0].expr.clone(),
        other => panic!("{text:?}: {other:?}"),
    }
}

fn name(n: &str) -> Expr {
    Expr::Name(vec![n.to_owned()])
}

fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Int(i))
}

fn bin(l: Expr, op: BinaryOp, r: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

fn call(n: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: n.to_owned(),
        args,
    }
}

fn syntax_error(text: &str) -> String {
    match parse(text) {
        Err(Error::Syntax { message, .. }) => message,
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn function_calls_lower_case_their_name() {
    assert_eq!(expr("LOWER(a)"), call("lower", vec![name("a")]));
    assert_eq!(
        expr("coalesce(a, 1, b + 1)"),
        call(
            "coalesce",
            vec![name("a"), int(1), bin(name("b"), BinaryOp::Add, int(1))]
        )
    );
    assert_eq!(expr("concat()"), call("concat", vec![]));
}

#[test]
fn case_forms() {
    assert_eq!(
        expr("case when a then 1 when b then 2 else 3 end"),
        Expr::Case {
            operand: None,
            whens: vec![(name("a"), int(1)), (name("b"), int(2))],
            else_result: Some(Box::new(int(3))),
        }
    );
    assert_eq!(
        expr("CASE a WHEN 1 THEN 2 END"),
        Expr::Case {
            operand: Some(Box::new(name("a"))),
            whens: vec![(int(1), int(2))],
            else_result: None,
        }
    );
    // `when`, `then`, `else` and `end` stay usable as names.
    assert_eq!(
        expr("case end when then then else else end end"),
        Expr::Case {
            operand: Some(Box::new(name("end"))),
            whens: vec![(name("then"), name("else"))],
            else_result: Some(Box::new(name("end"))),
        }
    );
    assert_eq!(
        syntax_error("select case a then 1 end from t"),
        r#"expected "when" but found "then""#
    );
    assert_eq!(
        syntax_error("select case when a 1 end from t"),
        r#"expected "then" but found "1""#
    );
    assert_eq!(
        syntax_error("select case when a then 1 from t"),
        r#"expected "end" but found "from""#
    );
}

#[test]
fn casts_and_postfix_casts() {
    let cast = |e: Expr, ty| Expr::Cast {
        expr: Box::new(e),
        ty,
    };
    assert_eq!(expr("cast(a as int)"), cast(name("a"), ColumnType::Int));
    assert_eq!(expr("a::string"), cast(name("a"), ColumnType::String));
    assert_eq!(
        expr("a::float::int"),
        cast(cast(name("a"), ColumnType::Float), ColumnType::Int)
    );
    // `::` binds tighter than unary minus and than `*`.
    assert_eq!(
        expr("-5::int"),
        cast(Expr::Literal(Literal::Int(-5)), ColumnType::Int)
    );
    assert_eq!(
        expr("2 * a::int"),
        bin(int(2), BinaryOp::Mul, cast(name("a"), ColumnType::Int))
    );
    assert!(syntax_error("select cast(a as text) from t").contains("column type"));
    assert!(syntax_error("select a::number from t").contains("column type"));
}

#[test]
fn concat_is_looser_than_sum_and_tighter_than_comparison() {
    assert_eq!(
        expr("a || b + 1"),
        bin(
            name("a"),
            BinaryOp::Concat,
            bin(name("b"), BinaryOp::Add, int(1))
        )
    );
    assert_eq!(
        expr("a || b = c"),
        bin(
            bin(name("a"), BinaryOp::Concat, name("b")),
            BinaryOp::Eq,
            name("c")
        )
    );
    assert_eq!(
        expr("a % 2 * 3"),
        bin(bin(name("a"), BinaryOp::Mod, int(2)), BinaryOp::Mul, int(3))
    );
    assert_eq!(
        expr("a like b || \"%\""),
        Expr::Like {
            expr: Box::new(name("a")),
            pattern: Box::new(bin(
                name("b"),
                BinaryOp::Concat,
                Expr::Literal(Literal::String("%".into()))
            )),
            negated: false,
        }
    );
}

#[test]
fn printing_reads_back() {
    for text in [
        "case when a then 1 else 2 end",
        "case a when 1 then 2 end",
        "case (when) when 1 then 2 end",
        "cast(a as json)",
        "(a || b) + 1",
        "coalesce(a, lower(b))",
        "a % (b % c)",
    ] {
        let e = expr(text);
        assert_eq!(expr(&e.to_string()), e, "{text} printed as {e}");
    }
}

#[test]
fn unknown_functions_hint_at_the_closest_name() {
    match parse("select lenght(a) from t") {
        Err(e @ Error::Syntax { .. }) => {
            assert_eq!(e.code(), ErrorCode::SyntaxError);
            assert_eq!(e.hint(), Some("did you mean \"length\"?"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_function_nesting_is_too_complex() {
    let text = format!("select {}a{} from t", "lower(".repeat(300), ")".repeat(300));
    assert_eq!(parse(&text).unwrap_err().code(), ErrorCode::TooComplex);
    let text = format!(
        "select {}1{} from t",
        "case when true then ".repeat(300),
        " end".repeat(300)
    );
    assert_eq!(parse(&text).unwrap_err().code(), ErrorCode::TooComplex);
    let text = format!("select a{} from t", "::int".repeat(300));
    assert_eq!(parse(&text).unwrap_err().code(), ErrorCode::TooComplex);
}
