//! A server on an ephemeral loopback port over an in-memory database.

use std::sync::Arc;

use fasty_query::{Database, Options};
use fasty_server::{AppState, ServerOptions};
use tokio::sync::oneshot;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A running server; dropping it stops the server.
pub struct Server {
    pub port: u16,
    pub db: Arc<Database>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// A server with default options.
    pub async fn start() -> Server {
        Server::with(ServerOptions::default()).await
    }

    /// A server with `opts`.
    pub async fn with(opts: ServerOptions) -> Server {
        let db = Arc::new(Database::open("unused", Options::memory()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel::<()>();
        let state = AppState::new(db.clone(), opts);
        let task = tokio::spawn(fasty_server::serve_pg(listener, state, async move {
            let _ = rx.await;
        }));
        Server {
            port,
            db,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// A client connected as `user` with `password` (if any).
    pub async fn try_connect(
        &self,
        password: Option<&str>,
    ) -> Result<Client, tokio_postgres::Error> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host("127.0.0.1")
            .port(self.port)
            .user("tester")
            .dbname("fasty")
            .application_name("pg-tests");
        if let Some(p) = password {
            cfg.password(p);
        }
        let (client, conn) = cfg.connect(NoTls).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    /// A client without a password.
    pub async fn connect(&self) -> Client {
        self.try_connect(None).await.unwrap()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The rows of a simple query, as text (None for null).
pub async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| panic!("no SQLSTATE in {e:?}"))
}

/// A bare protocol client, to see what drivers hide: command tags as
/// sent, the transaction status byte, notices, parameter statuses.
pub struct Raw {
    stream: tokio::net::TcpStream,
}

/// What the server answered to one simple query, up to ReadyForQuery.
#[derive(Debug, Default)]
pub struct Answer {
    /// CommandComplete tags, in order.
    pub tags: Vec<String>,
    /// SQLSTATEs of ErrorResponses.
    pub errors: Vec<String>,
    /// Column names of each RowDescription.
    pub columns: Vec<Vec<String>>,
    /// DataRows as text.
    pub rows: Vec<Vec<Option<String>>>,
    /// SQLSTATEs of notices.
    pub notices: Vec<String>,
    /// ParameterStatus (name, value) pairs.
    pub params: Vec<(String, String)>,
    /// EmptyQueryResponses.
    pub empty: usize,
    /// The ReadyForQuery status: `I`, `T` or `E`.
    pub status: char,
}

impl Raw {
    /// Connects and starts up (trust authentication).
    pub async fn connect(port: u16) -> Raw {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut body = Vec::new();
        body.extend_from_slice(&196608i32.to_be_bytes());
        for s in ["user", "tester", "database", "fasty"] {
            body.extend_from_slice(s.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut msg = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        stream.write_all(&msg).await.unwrap();
        let mut raw = Raw { stream };
        let a = raw.until_ready().await;
        assert_eq!(a.status, 'I', "{a:?}");
        raw
    }

    /// Sends a simple query and reads the answer.
    pub async fn query(&mut self, sql: &str) -> Answer {
        use tokio::io::AsyncWriteExt;
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        self.stream.write_all(&msg).await.unwrap();
        self.until_ready().await
    }

    /// Parse (with parameter type oids), Bind (text parameters, text
    /// results), Execute, Sync: the extended protocol in text format.
    pub async fn extended(&mut self, sql: &str, oids: &[u32], params: &[Option<&str>]) -> Answer {
        use tokio::io::AsyncWriteExt;
        fn msg(out: &mut Vec<u8>, ty: u8, body: &[u8]) {
            out.push(ty);
            out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
            out.extend_from_slice(body);
        }
        let mut out = Vec::new();
        let mut b = Vec::new();
        b.push(0); // unnamed statement
        b.extend_from_slice(sql.as_bytes());
        b.push(0);
        b.extend_from_slice(&(oids.len() as i16).to_be_bytes());
        for o in oids {
            b.extend_from_slice(&o.to_be_bytes());
        }
        msg(&mut out, b'P', &b);
        let mut b = vec![0, 0]; // unnamed portal, unnamed statement
        b.extend_from_slice(&0i16.to_be_bytes()); // all parameters text
        b.extend_from_slice(&(params.len() as i16).to_be_bytes());
        for p in params {
            match p {
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    b.extend_from_slice(v.as_bytes());
                }
            }
        }
        b.extend_from_slice(&0i16.to_be_bytes()); // all results text
        msg(&mut out, b'B', &b);
        msg(&mut out, b'D', b"P\0");
        msg(&mut out, b'E', b"\0\0\0\0\0");
        msg(&mut out, b'S', b"");
        self.stream.write_all(&out).await.unwrap();
        self.until_ready().await
    }

    async fn until_ready(&mut self) -> Answer {
        use tokio::io::AsyncReadExt;
        let mut a = Answer::default();
        loop {
            let ty = self.stream.read_u8().await.unwrap();
            let len = self.stream.read_i32().await.unwrap() as usize;
            let mut body = vec![0u8; len - 4];
            self.stream.read_exact(&mut body).await.unwrap();
            let cstr = |b: &[u8]| {
                let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                String::from_utf8_lossy(&b[..end]).into_owned()
            };
            let code = |b: &[u8]| {
                let mut i = 0;
                while i < b.len() && b[i] != 0 {
                    let field = b[i];
                    let s = cstr(&b[i + 1..]);
                    i += 2 + s.len();
                    if field == b'C' {
                        return s;
                    }
                }
                String::new()
            };
            match ty {
                b'C' => a.tags.push(cstr(&body)),
                b'E' => a.errors.push(code(&body)),
                b'N' => a.notices.push(code(&body)),
                b'I' => a.empty += 1,
                b'S' => {
                    let name = cstr(&body);
                    let value = cstr(&body[name.len() + 1..]);
                    a.params.push((name, value));
                }
                b'T' => {
                    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut i = 2;
                    let mut names = Vec::new();
                    for _ in 0..n {
                        let name = cstr(&body[i..]);
                        i += name.len() + 1 + 18;
                        names.push(name);
                    }
                    a.columns.push(names);
                }
                b'D' => {
                    let n = i16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut i = 2;
                    let mut row = Vec::new();
                    for _ in 0..n {
                        let l =
                            i32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
                        i += 4;
                        if l < 0 {
                            row.push(None);
                        } else {
                            let l = l as usize;
                            row.push(Some(String::from_utf8_lossy(&body[i..i + l]).into_owned()));
                            i += l;
                        }
                    }
                    a.rows.push(row);
                }
                b'Z' => {
                    a.status = body[0] as char;
                    return a;
                }
                _ => {}
            }
        }
    }
}
