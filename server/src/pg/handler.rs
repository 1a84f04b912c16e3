//! The query protocols: simple (`Query`: one or more statements, each
//! answered in turn) and extended (`Parse`/`Bind`/`Describe`/`Execute`/
//! `Sync`). Each connection owns a [`Session`] (its transaction) and its
//! [`Settings`]; statements run on tokio's blocking pool under the
//! server's time and memory limits, with a cancel flag that a cancel
//! request or a dropped connection sets.
//!
//! Transactions follow PostgreSQL: after an error inside a transaction
//! block the block is failed (status `E`): every statement but `COMMIT`
//! and `ROLLBACK` gets 25P02, and either ends the block by rolling it
//! back (`COMMIT` answers `ROLLBACK`). The status byte of ReadyForQuery
//! is computed from the session after every statement.

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use bytes::BytesMut;
use fasty_query::{Column, Database, ExecOptions, Output, Prepared, Session, StatementKind, Value};
use futures::{Sink, SinkExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler, send_query_response};
use pgwire::api::results::{FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, PgWireConnectionState, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{DataRow, FieldDescription, RowDescription};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, NoticeResponse, ReadyForQuery, TransactionStatus,
};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::ParameterStatus;

use super::errors::PgError;
use super::settings::{self, Command, Settings};
use super::types::{decode_param, encode_field, pg_type};
use super::{Control, prepare, split};
use crate::AppState;

/// A connection's own state, kept in pgwire's per-connection extensions.
pub(crate) struct Conn {
    session: Arc<Mutex<Session>>,
    /// Whether the session holds a transaction, as of its last statement:
    /// read without the session's lock, which a statement cut off by a
    /// cancel may still hold on the blocking pool.
    in_txn: Arc<AtomicBool>,
    settings: Mutex<Settings>,
}

impl Conn {
    fn in_transaction(&self) -> bool {
        self.in_txn.load(Ordering::SeqCst)
    }

    fn settings(&self) -> MutexGuard<'_, Settings> {
        lock(&self.settings)
    }
}

/// A lock that a panic elsewhere does not make unusable (the data is a
/// session or a settings map, both consistent between calls).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The connection state of `client`, made on first use.
fn conn<C: ClientInfo + ?Sized>(client: &C) -> Arc<Conn> {
    client.session_extensions().get_or_insert_with(|| Conn {
        session: Arc::new(Mutex::new(Session::new())),
        in_txn: Arc::new(AtomicBool::new(false)),
        settings: Mutex::new(Settings::new(client.metadata())),
    })
}

/// A statement of the extended protocol, parsed at `Parse`.
#[derive(Debug, Clone)]
pub(crate) struct PgStatement {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Setting(Command),
    Control(Control),
    Query {
        prepared: Arc<Prepared>,
        columns: Arc<Vec<Column>>,
        /// The placeholders' types as the server infers them (text where
        /// it cannot), for Describe and for decoding undeclared ones.
        params: Arc<Vec<Type>>,
    },
}

/// Result columns (name, type) and rows.
type Rows = (Vec<(String, Type)>, Vec<Vec<Value>>);

/// What a statement answers: rows (with their columns) or not, the
/// command tag, and notices or parameter changes to send first.
struct Reply {
    rows: Option<Rows>,
    tag: Tag,
    notices: Vec<PgWireBackendMessage>,
}

impl Reply {
    fn tag(tag: Tag) -> Reply {
        Reply {
            rows: None,
            tag,
            notices: Vec::new(),
        }
    }

    fn warn(mut self, code: &str, message: &str) -> Reply {
        self.notices
            .push(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                ErrorInfo::new("WARNING".into(), code.into(), message.into()),
            )));
        self
    }
}

/// A statement to run on the blocking pool.
enum Job {
    Text(String),
    Prepared(Arc<Prepared>, Vec<Value>),
}

/// The query handlers of every connection: the server's state.
pub(crate) struct Backend {
    state: AppState,
    parser: Arc<Parser>,
}

impl Backend {
    pub(crate) fn new(state: AppState) -> Backend {
        Backend {
            parser: Arc::new(Parser {
                state: state.clone(),
            }),
            state,
        }
    }

    /// Runs `job` in the connection's session on the blocking pool, under
    /// the server's limits; a cancel request for the connection, or the
    /// connection going away, sets the statement's cancel flag.
    ///
    /// `client` is given where this listens for cancel requests itself
    /// (the simple protocol); pgwire's Execute listens on its own and
    /// drops the statement's future, which sets the flag as well.
    async fn run<C: ClientInfo + ?Sized>(
        &self,
        client: Option<&C>,
        conn: &Conn,
        job: Job,
    ) -> Result<(Output, Option<StatementKind>), PgError> {
        let Some(work) = self.state.lifecycle.enter() else {
            return Err(PgError::new("57P01", "the server is shutting down"));
        };
        let cancel = CancelOnDrop::default();
        let flag = cancel.flag.clone();
        let db = self.state.db.clone();
        let session = conn.session.clone();
        let in_txn = conn.in_txn.clone();
        let timeout = self.state.opts.statement_timeout;
        let memory = self.state.opts.statement_memory;
        let task = tokio::task::spawn_blocking(move || {
            let _work = work;
            let opts = ExecOptions::default()
                .with_deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
                .with_memory_limit(memory)
                .with_cancel(Some(flag));
            let mut session = lock(&session);
            let result = run_job(&db, &mut session, job, opts);
            in_txn.store(session.in_transaction(), Ordering::SeqCst);
            result
        });
        let handle = client.and_then(|c| c.session_extensions().get::<Arc<ConnectionHandle>>());
        let result = match handle {
            None => task.await,
            Some(handle) => {
                let mut cancelled = handle.start_query().await;
                tokio::pin!(task);
                let mut listening = true;
                loop {
                    tokio::select! {
                        r = &mut task => break r,
                        c = &mut cancelled, if listening => {
                            listening = false;
                            if c.is_ok() {
                                cancel.flag.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                }
            }
        };
        cancel.disarm();
        match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("a statement task failed: {e}");
                Err(PgError::new(
                    "XX000",
                    "the statement failed: see the server log",
                ))
            }
        }
    }

    /// Answers one statement of either protocol: `kind` is the parsed
    /// statement of the extended protocol, `None` for the simple one.
    async fn answer<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        conn: &Conn,
        text: &str,
        kind: Option<&Kind>,
        params: Vec<Value>,
    ) -> Result<Reply, PgError> {
        let listener = kind.is_none().then_some(client);
        let failed =
            client.transaction_status() == TransactionStatus::Error && conn.in_transaction();
        let control = match kind {
            Some(Kind::Control(c)) => Some(*c),
            Some(_) => None,
            None => Control::of(text),
        };
        if failed {
            return match control {
                Some(Control::Commit | Control::Rollback) => {
                    self.run(listener, conn, Job::Text("rollback".into()))
                        .await?;
                    Ok(Reply::tag(Tag::new("ROLLBACK")))
                }
                _ => Err(PgError::in_failed_transaction()),
            };
        }
        let setting = match kind {
            Some(Kind::Setting(c)) => Some(Ok(c.clone())),
            Some(_) => None,
            None => settings::command(text),
        };
        if let Some(cmd) = setting {
            return setting_reply(conn, cmd?);
        }
        if let Some(c) = control {
            let in_txn = conn.in_transaction();
            return match c {
                Control::Begin if in_txn => Ok(Reply::tag(Tag::new("BEGIN"))
                    .warn("25001", "there is already a transaction in progress")),
                Control::Commit | Control::Rollback if !in_txn => {
                    let tag = if c == Control::Commit {
                        "COMMIT"
                    } else {
                        "ROLLBACK"
                    };
                    Ok(Reply::tag(Tag::new(tag))
                        .warn("25P01", "there is no transaction in progress"))
                }
                _ => {
                    self.run(listener, conn, Job::Text(c.canonical(text)))
                        .await?;
                    Ok(Reply::tag(Tag::new(match c {
                        Control::Begin => "BEGIN",
                        Control::Commit => "COMMIT",
                        Control::Rollback => "ROLLBACK",
                    })))
                }
            };
        }
        let job = match kind {
            Some(Kind::Query { prepared, .. }) => Job::Prepared(prepared.clone(), params),
            _ => Job::Text(text.to_string()),
        };
        let (out, stmt_kind) = self.run(listener, conn, job).await?;
        Ok(output_reply(out, stmt_kind, text))
    }
}

/// Runs `job` in `session` (on the blocking pool).
fn run_job(
    db: &Database,
    session: &mut Session,
    job: Job,
    opts: ExecOptions,
) -> Result<(Output, Option<StatementKind>), PgError> {
    match job {
        Job::Text(text) => {
            let mut out = None;
            for stmt in super::parse(&text).map_err(|e| PgError::from_query(&e, &text))? {
                let kind = stmt.kind();
                let o = session
                    .run(db, &stmt, opts.clone())
                    .map_err(|e| PgError::from_query(&e, &text))?;
                out = Some((o, Some(kind)));
            }
            out.ok_or_else(|| PgError::new("42601", "no statement"))
        }
        Job::Prepared(prepared, params) => {
            let kind = prepared.kind();
            session
                .execute_prepared(db, &prepared, &params, opts)
                .map(|o| (o, Some(kind)))
                .map_err(|e| PgError::from_query(&e, ""))
        }
    }
}

/// The reply to `SET`/`SHOW`/`RESET`.
fn setting_reply(conn: &Conn, cmd: Command) -> Result<Reply, PgError> {
    let mut s = conn.settings();
    let status = |s: &Settings, name: &str| -> Vec<PgWireBackendMessage> {
        let spelt = s.spelling(name);
        match (settings::REPORTED.contains(&spelt.as_str()), s.get(name)) {
            (true, Some(v)) => vec![PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                spelt,
                v.to_string(),
            ))],
            _ => Vec::new(),
        }
    };
    Ok(match cmd {
        Command::Set(name, value) => {
            s.set(&name, &value)?;
            Reply {
                notices: status(&s, &name),
                ..Reply::tag(Tag::new("SET"))
            }
        }
        Command::Reset(name) => {
            s.reset(&name);
            Reply {
                notices: status(&s, &name),
                ..Reply::tag(Tag::new("RESET"))
            }
        }
        Command::ResetAll => {
            let names: Vec<String> = s.all().into_iter().map(|(n, _)| n).collect();
            for n in &names {
                s.reset(n);
            }
            Reply::tag(Tag::new("RESET"))
        }
        Command::Show(name) => {
            let Some(v) = s.get(&name) else {
                return Err(PgError::new(
                    "42704",
                    format!("unrecognized configuration parameter \"{name}\""),
                ));
            };
            let row = vec![Value::String(v.to_string())];
            Reply {
                rows: Some((vec![(name.to_ascii_lowercase(), Type::TEXT)], vec![row])),
                ..Reply::tag(Tag::new("SHOW"))
            }
        }
        Command::ShowAll => {
            let rows = s
                .all()
                .into_iter()
                .map(|(n, v)| vec![Value::String(n), Value::String(v)])
                .collect();
            Reply {
                rows: Some((
                    vec![("name".into(), Type::TEXT), ("setting".into(), Type::TEXT)],
                    rows,
                )),
                ..Reply::tag(Tag::new("SHOW"))
            }
        }
    })
}

/// The reply to a statement's output: rows as `SELECT n`, counts as
/// `INSERT 0 n`/`UPDATE n`/`DELETE n`, DDL by its first words, a plan as
/// one `QUERY PLAN` row per line.
fn output_reply(out: Output, kind: Option<StatementKind>, text: &str) -> Reply {
    match out {
        Output::Rows { columns, rows } => {
            let n = rows.len();
            Reply {
                rows: Some((fields_of(&columns), rows)),
                ..Reply::tag(Tag::new("SELECT").with_rows(n))
            }
        }
        Output::Affected(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Reply::tag(match kind {
                Some(StatementKind::Update) => Tag::new("UPDATE").with_rows(n),
                Some(StatementKind::Delete) => Tag::new("DELETE").with_rows(n),
                _ => Tag::new("INSERT").with_oid(0).with_rows(n),
            })
        }
        Output::Plan(plan) => {
            let rows: Vec<Vec<Value>> = plan
                .lines()
                .map(|l| vec![Value::String(l.to_string())])
                .collect();
            Reply {
                rows: Some((vec![("QUERY PLAN".into(), Type::TEXT)], rows)),
                ..Reply::tag(Tag::new("EXPLAIN"))
            }
        }
        Output::Ok => Reply::tag(Tag::new(&ddl_tag(text))),
    }
}

/// `CREATE TABLE`, `DROP INDEX`, ...: the first two words (after any
/// leading comments), upper case, without what follows a name.
fn ddl_tag(text: &str) -> String {
    super::skip_comments(text)
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn fields_of(columns: &[Column]) -> Vec<(String, Type)> {
    columns
        .iter()
        .map(|c| (c.name.clone(), pg_type(c.ty)))
        .collect()
}

/// The format of result column or parameter `i` (text where the client
/// gave fewer codes than columns).
fn format_of(format: &Format, i: usize) -> FieldFormat {
    match format {
        Format::UnifiedText => FieldFormat::Text,
        Format::UnifiedBinary => FieldFormat::Binary,
        Format::Individual(codes) => codes
            .get(i)
            .map_or(FieldFormat::Text, |c| FieldFormat::from(*c)),
    }
}

fn field_infos(fields: &[(String, Type)], format: Option<&Format>) -> Vec<FieldInfo> {
    fields
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let f = format.map_or(FieldFormat::Text, |f| format_of(f, i));
            FieldInfo::new(name.clone(), None, None, ty.clone(), f)
        })
        .collect()
}

/// Encodes `rows` as DataRows for `fields`.
fn data_rows(fields: &[FieldInfo], rows: &[Vec<Value>]) -> Result<Vec<DataRow>, PgError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut buf = BytesMut::with_capacity(16 * row.len());
        for (v, f) in row.iter().zip(fields) {
            encode_field(&mut buf, v, f.datatype(), f.format())?;
        }
        out.push(DataRow::new(buf, fields.len() as i16));
    }
    Ok(out)
}

fn query_response(fields: Vec<FieldInfo>, rows: &[Vec<Value>]) -> Result<QueryResponse, PgError> {
    let data = data_rows(&fields, rows)?;
    Ok(QueryResponse::new(
        Arc::new(fields),
        stream::iter(data.into_iter().map(Ok)),
    ))
}

/// The transaction status after a statement: idle outside a transaction,
/// failed after an error inside one (or once failed, until it ends).
fn status_after(conn: &Conn, was_failed: bool, errored: bool) -> TransactionStatus {
    if !conn.in_transaction() {
        TransactionStatus::Idle
    } else if was_failed || errored {
        TransactionStatus::Error
    } else {
        TransactionStatus::Transaction
    }
}

#[async_trait]
impl SimpleQueryHandler for Backend {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let conn = conn(client);
        let statements = split(&query.query);
        if statements.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
        }
        for text in statements {
            let was_failed = client.transaction_status() == TransactionStatus::Error;
            let reply = self.answer(client, &conn, text, None, Vec::new()).await;
            let errored = reply.is_err();
            match reply {
                Ok(reply) => send_reply(client, reply).await?,
                Err(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse(e.info().into()))
                        .await?;
                }
            }
            client.set_transaction_status(status_after(&conn, was_failed, errored));
            // PostgreSQL skips the rest of a message after an error.
            if errored {
                break;
            }
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        let status = client.transaction_status();
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` answers every simple query itself.
        Err(PgWireError::NotReadyForQuery)
    }
}

/// Sends a simple-query reply: notices, then rows or the tag.
async fn send_reply<C>(client: &mut C, reply: Reply) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in reply.notices {
        client.feed(n).await?;
    }
    match reply.rows {
        Some((fields, rows)) => {
            let response = query_response(field_infos(&fields, None), &rows)?;
            // PostgreSQL's EXPLAIN and SHOW tags carry no count.
            if reply.tag == Tag::new("EXPLAIN") || reply.tag == Tag::new("SHOW") {
                send_rows_then(client, response, reply.tag.into()).await?;
            } else {
                send_query_response(client, response, true).await?;
            }
        }
        None => {
            client
                .feed(PgWireBackendMessage::CommandComplete(reply.tag.into()))
                .await?;
        }
    }
    Ok(())
}

/// RowDescription, the rows, then `done` as the CommandComplete.
async fn send_rows_then<C>(
    client: &mut C,
    mut response: QueryResponse,
    done: CommandComplete,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    use futures::StreamExt;
    let desc = RowDescription::new(
        response
            .row_schema()
            .iter()
            .map(FieldDescription::from)
            .collect(),
    );
    client
        .feed(PgWireBackendMessage::RowDescription(desc))
        .await?;
    while let Some(row) = response.data_rows().next().await {
        client.feed(PgWireBackendMessage::DataRow(row?)).await?;
    }
    client
        .feed(PgWireBackendMessage::CommandComplete(done))
        .await?;
    Ok(())
}

/// Parses statements at `Parse`, and describes them.
pub(crate) struct Parser {
    state: AppState,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = PgStatement;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<PgStatement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut pieces = split(sql);
        let text = match (pieces.pop(), pieces.is_empty()) {
            (None, _) => return Ok(None),
            (Some(t), true) => t.to_string(),
            (Some(_), false) => {
                return Err(PgError::new(
                    "42601",
                    "cannot insert multiple commands into a prepared statement",
                )
                .into());
            }
        };
        let kind = if let Some(cmd) = settings::command(&text) {
            Kind::Setting(cmd?)
        } else if let Some(c) = Control::of(&text) {
            Kind::Control(c)
        } else {
            let db = &self.state.db;
            let prepared = prepare(db, &text).map_err(|e| PgError::from_query(&e, &text))?;
            let columns = db
                .describe(&prepared)
                .map_err(|e| PgError::from_query(&e, &text))?;
            let columns = if prepared.kind() == StatementKind::Explain {
                vec![Column {
                    name: "QUERY PLAN".into(),
                    ty: Some(fasty_query::ColumnType::String),
                }]
            } else {
                columns
            };
            let params = db
                .param_types(&prepared)
                .into_iter()
                .map(|t| t.map_or(Type::TEXT, |t| pg_type(Some(t))))
                .collect();
            Kind::Query {
                prepared: Arc::new(prepared),
                columns: Arc::new(columns),
                params: Arc::new(params),
            }
        };
        Ok(Some(PgStatement { text, kind }))
    }

    fn get_parameter_types(&self, stmt: &PgStatement) -> PgWireResult<Vec<Type>> {
        Ok(match &stmt.kind {
            Kind::Query { params, .. } => params.to_vec(),
            _ => Vec::new(),
        })
    }

    fn get_result_schema(
        &self,
        stmt: &PgStatement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let fields = match &stmt.kind {
            Kind::Query { columns, .. } => fields_of(columns),
            Kind::Setting(Command::Show(name)) => vec![(name.to_ascii_lowercase(), Type::TEXT)],
            Kind::Setting(Command::ShowAll) => {
                vec![("name".into(), Type::TEXT), ("setting".into(), Type::TEXT)]
            }
            _ => Vec::new(),
        };
        Ok(field_infos(&fields, format))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Backend {
    type Statement = PgStatement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn on_execute<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::extendedquery::Execute,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let was_failed = client.transaction_status() == TransactionStatus::Error;
        let result = self._on_execute(client, message).await;
        let conn = conn(client);
        // On an error pgwire then marks an open transaction failed itself;
        // outside one (a failed COMMIT ended it) the status stays idle.
        client.set_transaction_status(status_after(&conn, was_failed, false));
        result
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<PgStatement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn(client);
        let stmt = &portal.statement;
        // The client's declared types first, then the inferred ones.
        let declared = &stmt.parameter_types;
        let inferred = match &stmt.statement.kind {
            Kind::Query { params, .. } => params.as_slice(),
            _ => &[],
        };
        let mut params = Vec::with_capacity(portal.parameters.len());
        for (i, p) in portal.parameters.iter().enumerate() {
            let ty = declared
                .get(i)
                .and_then(Option::as_ref)
                .or_else(|| inferred.get(i));
            params.push(decode_param(
                p.as_deref(),
                ty,
                format_of(&portal.parameter_format, i),
                i,
            )?);
        }
        let reply = self
            .answer(
                client,
                &conn,
                &stmt.statement.text,
                Some(&stmt.statement.kind),
                params,
            )
            .await?;
        for n in reply.notices {
            client.feed(n).await?;
        }
        Ok(match reply.rows {
            Some((fields, rows)) => {
                let fields = field_infos(&fields, Some(&portal.result_column_format));
                let mut response = query_response(fields, &rows)?;
                if reply.tag == Tag::new("SHOW") {
                    response.set_command_tag("SHOW");
                }
                Response::Query(response)
            }
            None => Response::Execution(reply.tag),
        })
    }
}

/// Sets the statement's cancel flag when dropped armed: the connection
/// went away (its task was dropped) before the statement finished.
#[derive(Default)]
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
    disarmed: bool,
}

impl CancelOnDrop {
    fn disarm(mut self) {
        self.disarmed = true;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.disarmed {
            self.flag.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::types::text;

    #[test]
    fn tags_follow_postgres() {
        let tag = |out, kind, text| -> String {
            let t: CommandComplete = output_reply(out, kind, text).tag.into();
            t.tag
        };
        assert_eq!(
            tag(Output::Affected(3), Some(StatementKind::Insert), "insert"),
            "INSERT 0 3"
        );
        assert_eq!(
            tag(Output::Affected(2), Some(StatementKind::Update), "update"),
            "UPDATE 2"
        );
        assert_eq!(
            tag(Output::Affected(0), Some(StatementKind::Delete), "delete"),
            "DELETE 0"
        );
        assert_eq!(
            tag(
                Output::Ok,
                Some(StatementKind::Ddl),
                "CREATE TABLE t (id INT PRIMARY KEY)"
            ),
            "CREATE TABLE"
        );
        assert_eq!(
            tag(
                Output::Ok,
                Some(StatementKind::Ddl),
                "-- make it\n/* here */ create\ttable(id int)"
            ),
            "CREATE TABLE"
        );
        assert_eq!(
            tag(Output::Ok, Some(StatementKind::Ddl), "drop  index i"),
            "DROP INDEX"
        );
        let rows = Output::Rows {
            columns: vec![],
            rows: vec![vec![], vec![]],
        };
        assert_eq!(tag(rows, Some(StatementKind::Select), "select"), "SELECT 2");
    }

    #[test]
    fn explain_is_one_row_per_line() {
        let r = output_reply(
            Output::Plan("a\n  b".into()),
            Some(StatementKind::Explain),
            "explain",
        );
        let (fields, rows) = r.rows.unwrap();
        assert_eq!(fields, vec![("QUERY PLAN".to_string(), Type::TEXT)]);
        assert_eq!(
            rows,
            vec![
                vec![Value::String("a".into())],
                vec![Value::String("  b".into())]
            ]
        );
        assert_eq!(text(&rows[1][0]), "  b");
    }
}
