//! `GET /stats` (JSON) and `GET /metrics` (Prometheus text): the
//! database's tables, storage, log and cache figures next to the server's
//! request counters, latencies, errors and connections. Both gather on
//! the blocking pool: they count each table's rows, which reads the
//! table.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};

use crate::AppState;
use crate::error::{ApiError, json_response};

/// `GET /stats`.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    let ran = tokio::task::spawn_blocking(move || stats_json(&state)).await;
    match ran {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => ApiError::internal(format!("gathering stats failed: {e}")).into_response(),
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let ran = tokio::task::spawn_blocking(move || prometheus_text(&state)).await;
    match ran {
        Ok(text) => {
            let mut res = (StatusCode::OK, text).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            res
        }
        Err(e) => ApiError::internal(format!("gathering metrics failed: {e}")).into_response(),
    }
}

fn stats_json(state: &AppState) -> Vec<u8> {
    let db = &state.db;
    let tables = db.tables();
    let mut indexes = Map::new();
    let mut rows = Map::new();
    for t in &tables {
        let idx = db.schema(t).map(|(_, idx)| idx).unwrap_or_default();
        indexes.insert(t.clone(), json!(idx));
        rows.insert(t.clone(), row_count(db, t).map_or(Json::Null, Json::from));
    }
    let kv = db.kv().stats();
    let st = &kv.storage;
    let txns = db.transaction_stats();
    let levels: Vec<Json> = st
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"level": i, "files": l.files, "bytes": l.bytes}))
        .collect();
    let lookups = st.cache_hits + st.cache_misses;
    let hit_ratio = (lookups > 0).then(|| st.cache_hits as f64 / lookups as f64);

    let snap = state.metrics.snapshot();
    let mut requests = Map::new();
    let mut latency = Map::new();
    let mut total = 0;
    for k in &snap.kinds {
        let n = k.count();
        total += n;
        let mut by_status = Map::new();
        by_status.insert("total".into(), n.into());
        for (status, count) in k.statuses() {
            by_status.insert(status.into(), count.into());
        }
        requests.insert(k.kind.as_str().into(), Json::Object(by_status));
        latency.insert(
            k.kind.as_str().into(),
            json!({
                "count": n,
                "sampled": k.sampled(),
                "mean_ms": k.mean_ms(),
                "p50_ms": k.percentile_ms(0.50),
                "p95_ms": k.percentile_ms(0.95),
                "p99_ms": k.percentile_ms(0.99),
            }),
        );
    }
    requests.insert("total".into(), total.into());

    let body = json!({
        "success": true,
        "data": {
            "tables": tables,
            "indexes": indexes,
            "rows": rows,
            "memory": {
                "memtable_bytes": st.memtable_bytes,
                "frozen_memtables": st.frozen_memtables,
                "frozen_bytes": st.frozen_bytes,
                "cache_bytes": st.cache_bytes,
                "rss_bytes": rss_bytes(),
            },
            "storage": {
                "io_backend": st.io_backend,
                "files": st.levels.iter().map(|l| l.files).sum::<usize>(),
                "bytes": st.levels.iter().map(|l| l.bytes).sum::<u64>(),
                "levels": levels,
                "flushes": st.flushes,
                "compactions": st.compactions,
                "bytes_flushed": st.bytes_flushed,
                "bytes_compacted": st.bytes_compacted,
                "write_stalls": st.write_stalls,
                "write_stall_micros": st.write_stall_micros,
                "flushed_seqno": st.flushed_seqno,
            },
            "wal": {
                "durability": kv.durability,
                "last_seqno": kv.last_seqno,
                "durable_seqno": kv.durable_seqno,
                "lag": wal_lag(&kv),
                "segments": kv.log_segments,
                "records": kv.log_records,
                "bytes": kv.log_bytes_written,
                "fsyncs": kv.log_syncs,
                "groups": kv.log_groups,
                "rotations": kv.log_rotations,
                "segments_removed": kv.log_segments_removed,
                "spares_used": kv.log_spares_used,
                "poisoned": kv.poisoned,
                "replay": {
                    "segments": kv.replay.segments,
                    "records": kv.replay.records,
                    "bytes": kv.replay.bytes,
                    "millis": kv.replay.duration.as_secs_f64() * 1000.0,
                },
            },
            "cache": {
                "hits": st.cache_hits,
                "misses": st.cache_misses,
                "hit_ratio": hit_ratio,
                "bytes": st.cache_bytes,
            },
            "transactions": {
                "open": txns.open,
                "begun": txns.begun,
                "commits": txns.commits,
                "rollbacks": txns.rollbacks,
                "conflicts": txns.conflicts,
                "timeouts": txns.timeouts,
            },
            "requests": requests,
            "latency": latency,
            "errors": snap.errors,
            "connections": {
                "open": snap.connections,
                "requests_in_flight": snap.in_flight,
            },
            "uptime": state.started.elapsed().as_secs_f64(),
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Rows in table `t` (a count over one snapshot); `None` if it could not
/// be counted (the table was dropped meanwhile).
fn row_count(db: &fasty_query::Database, t: &str) -> Option<i64> {
    match db.execute(&format!("select count(*) from {t}")) {
        Ok(fasty_query::Output::Rows { rows, .. }) => match rows.first()?.first()? {
            fasty_query::Value::Int(n) => Some(*n),
            _ => None,
        },
        _ => None,
    }
}

/// Records acknowledged but not yet durable: the written sequence number
/// minus the durable one (0 in memory mode, where nothing is ever
/// durable and there is no log to lag).
fn wal_lag(kv: &fasty_wal::Stats) -> u64 {
    if kv.durability == "memory" {
        return 0;
    }
    kv.last_seqno.saturating_sub(kv.durable_seqno)
}

/// When the process started, in seconds since the Unix epoch, where the
/// OS tells (Linux: its start in clock ticks after boot, and the boot
/// time); else when the server state was made.
fn process_start_seconds(state: &AppState) -> f64 {
    fn from_proc() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces), from 3.
        let rest = &stat[stat.rfind(')')? + 2..];
        let ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let btime: f64 = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        // The kernel reports ticks in USER_HZ, 100 on Linux.
        Some(btime + ticks / 100.0)
    }
    from_proc().unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        now - state.started.elapsed().as_secs_f64()
    })
}

/// The process's resident memory, where the OS tells (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn prometheus_text(state: &AppState) -> String {
    let db = &state.db;
    let tables = db.tables();
    let indexes: usize = tables
        .iter()
        .map(|t| db.schema(t).map_or(0, |(_, idx)| idx.len()))
        .sum();
    let kv = db.kv().stats();
    let st = &kv.storage;
    let mut out = String::with_capacity(8 << 10);
    let mut metric = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    };
    metric(
        "fasty_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        state.started.elapsed().as_secs_f64(),
    );
    metric(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        process_start_seconds(state),
    );
    metric("fasty_tables", "gauge", "Tables.", tables.len() as f64);
    metric(
        "fasty_indexes",
        "gauge",
        "Secondary indexes.",
        indexes as f64,
    );
    metric(
        "fasty_memtable_bytes",
        "gauge",
        "Bytes in the active and frozen memtables.",
        (st.memtable_bytes + st.frozen_bytes) as f64,
    );
    metric(
        "fasty_cache_bytes",
        "gauge",
        "Bytes held by the block cache.",
        st.cache_bytes as f64,
    );
    metric(
        "fasty_cache_hits_total",
        "counter",
        "Block cache hits.",
        st.cache_hits as f64,
    );
    metric(
        "fasty_cache_misses_total",
        "counter",
        "Block cache misses.",
        st.cache_misses as f64,
    );
    metric(
        "fasty_flushes_total",
        "counter",
        "Memtables flushed.",
        st.flushes as f64,
    );
    metric(
        "fasty_compactions_total",
        "counter",
        "Compactions run.",
        st.compactions as f64,
    );
    metric(
        "fasty_write_stalls_total",
        "counter",
        "Times a writer waited for flush or compaction.",
        st.write_stalls as f64,
    );
    let txns = state.db.transaction_stats();
    metric(
        "fasty_transactions_open",
        "gauge",
        "Transactions open now.",
        txns.open as f64,
    );
    metric(
        "fasty_transactions_total",
        "counter",
        "Transactions begun.",
        txns.begun as f64,
    );
    metric(
        "fasty_transaction_commits_total",
        "counter",
        "Transactions committed.",
        txns.commits as f64,
    );
    metric(
        "fasty_transaction_rollbacks_total",
        "counter",
        "Transactions rolled back (by rollback, a failed commit or the idle timeout).",
        txns.rollbacks as f64,
    );
    metric(
        "fasty_transaction_conflicts_total",
        "counter",
        "Commits that failed with serialization_failure.",
        txns.conflicts as f64,
    );
    metric(
        "fasty_wal_bytes_written_total",
        "counter",
        "Bytes appended to the write-ahead log.",
        kv.log_bytes_written as f64,
    );
    metric(
        "fasty_wal_records_total",
        "counter",
        "Records (atomic batches) appended to the log.",
        kv.log_records as f64,
    );
    metric(
        "fasty_wal_fsyncs_total",
        "counter",
        "fsyncs of the log.",
        kv.log_syncs as f64,
    );
    metric(
        "fasty_wal_groups_total",
        "counter",
        "Group-commit rounds of the log writer.",
        kv.log_groups as f64,
    );
    metric(
        "fasty_wal_segments",
        "gauge",
        "Log segments on disk.",
        kv.log_segments as f64,
    );
    metric(
        "fasty_wal_last_seqno",
        "gauge",
        "Sequence number of the last write applied.",
        kv.last_seqno as f64,
    );
    metric(
        "fasty_wal_durable_seqno",
        "gauge",
        "Sequence number up to which writes are durable (synced or flushed).",
        kv.durable_seqno as f64,
    );
    metric(
        "fasty_wal_lag",
        "gauge",
        "Writes applied but not yet durable (last minus durable sequence number; 0 in memory mode).",
        wal_lag(&kv) as f64,
    );
    out.push_str(
        "# HELP fasty_storage_files SST files per level.\n# TYPE fasty_storage_files gauge\n",
    );
    for (i, l) in st.levels.iter().enumerate() {
        let _ = writeln!(out, "fasty_storage_files{{level=\"{i}\"}} {}", l.files);
    }
    out.push_str(
        "# HELP fasty_storage_bytes SST bytes per level.\n# TYPE fasty_storage_bytes gauge\n",
    );
    for (i, l) in st.levels.iter().enumerate() {
        let _ = writeln!(out, "fasty_storage_bytes{{level=\"{i}\"}} {}", l.bytes);
    }
    out.push_str("# HELP fasty_table_rows Rows per table.\n# TYPE fasty_table_rows gauge\n");
    for t in &tables {
        if let Some(n) = row_count(db, t) {
            let _ = writeln!(out, "fasty_table_rows{{table=\"{t}\"}} {n}");
        }
    }
    state.metrics.snapshot().write_prometheus(&mut out);
    out
}
