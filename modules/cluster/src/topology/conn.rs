//! One node: its address and a connection to it (the `redis` client crate, short timeouts),
//! with helpers to read replies.

use std::fmt;
use std::time::Duration;

use redis::Value;
use rm::{Error, Result};

use super::*;

/// A node address, `host:port`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr {
    /// Host name or IP (IPv6 without brackets).
    pub host: String,
    /// Client port.
    pub port: u16,
}

impl Addr {
    /// The IP the node is reached at (`CLUSTER MEET` takes an IP, not a host name).
    pub fn ip(&self) -> Result<String> {
        if self.host.parse::<std::net::IpAddr>().is_ok() {
            return Ok(self.host.clone());
        }
        std::net::ToSocketAddrs::to_socket_addrs(&(self.host.as_str(), self.port))
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip().to_string())
            .ok_or_else(|| Error::err(format!("cannot resolve {self}")))
    }

    /// Parses `host:port` (`[v6]:port` too). `None` if it is not one.
    pub fn parse(text: &str) -> Option<Addr> {
        let (host, port) = text.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return None;
        }
        Some(Addr {
            host: host.to_owned(),
            port,
        })
    }

    /// Parses `host:port`, or `ERR invalid address '<text>' (expected host:port)`.
    pub fn parse_arg(text: &str) -> Result<Addr> {
        Addr::parse(text)
            .ok_or_else(|| Error::err(format!("invalid address '{text}' (expected host:port)")))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A connection to one node.
pub struct Conn {
    /// Where it goes.
    pub addr: Addr,
    con: redis::Connection,
    /// How long a reply may take (for the error that says it did not come).
    timeout: std::cell::Cell<Duration>,
}

/// Turns a client error into `ERR <addr>: <error>`.
pub fn net_error(addr: &Addr, error: &redis::RedisError) -> Error {
    Error::err(format!("{addr}: {error}"))
}

impl Conn {
    /// Connects with [`CONNECT_TIMEOUT`]; replies may take [`READ_TIMEOUT`].
    pub fn open(addr: &Addr) -> Result<Conn> {
        use redis::IntoConnectionInfo as _;
        let mut info = redis::ConnectionAddr::Tcp(addr.host.clone(), addr.port)
            .into_connection_info()
            .map_err(|e| net_error(addr, &e))?;
        if let Some(credentials) = crate::credentials_for(addr) {
            let mut settings = info
                .redis_settings()
                .clone()
                .set_password(&credentials.password);
            if let Some(user) = &credentials.user {
                settings = settings.set_username(user);
            }
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(|e| net_error(addr, &e))?;
        let con = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| net_error(addr, &e))?;
        let conn = Conn {
            addr: addr.clone(),
            con,
            timeout: std::cell::Cell::new(READ_TIMEOUT),
        };
        conn.set_timeout(READ_TIMEOUT)?;
        Ok(conn)
    }

    /// Sets how long a reply may take.
    pub fn set_timeout(&self, timeout: Duration) -> Result<()> {
        self.timeout.set(timeout);
        self.con
            .set_read_timeout(Some(timeout))
            .and_then(|()| self.con.set_write_timeout(Some(timeout)))
            .map_err(|e| net_error(&self.addr, &e))
    }

    /// A failed exchange as an error naming the node; a timeout says so (the OS words it
    /// "Resource temporarily unavailable").
    fn failed(&self, error: &redis::RedisError) -> Error {
        if error.is_timeout() {
            Error::err(format!(
                "{}: no reply within {} ms",
                self.addr,
                self.timeout.get().as_millis()
            ))
        } else {
            net_error(&self.addr, error)
        }
    }

    /// Runs one command. An error reply is `Err(ERR <addr>: <error line>)`.
    pub fn cmd<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<Value> {
        let value = self.cmd_raw(args)?;
        match value {
            Value::ServerError(e) => Err(Error::err(format!(
                "{}: {} {}",
                self.addr,
                e.code(),
                e.details().unwrap_or("")
            ))),
            value => Ok(value),
        }
    }

    /// Runs one command; an error reply is returned as `Ok(Value::ServerError)`, only network
    /// and protocol failures are `Err`.
    pub fn cmd_raw<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<Value> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0].as_ref()).unwrap_or("?"));
        for arg in &args[1..] {
            cmd.arg(arg.as_ref());
        }
        use redis::ConnectionLike as _;
        self.con.req_command(&cmd).map_err(|e| self.failed(&e))
    }

    /// Runs a command whose reply is text (bulk, simple or verbatim string).
    pub fn text<S: AsRef<[u8]>>(&mut self, args: &[S]) -> Result<String> {
        let value = self.cmd(args)?;
        value_text(&value)
            .ok_or_else(|| Error::err(format!("{}: unexpected reply {value:?}", self.addr)))
    }

    /// Sends all `commands` in one pipeline and returns each reply (error replies included, as
    /// `Value::ServerError`). `Err` only when the connection fails.
    pub fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Value>> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for args in commands {
            let mut cmd = redis::cmd(std::str::from_utf8(&args[0]).unwrap_or("?"));
            for arg in &args[1..] {
                cmd.arg(&arg[..]);
            }
            pipe.add_command(cmd);
        }
        pipe.query::<Vec<Value>>(&mut self.con)
            .map_err(|e| self.failed(&e))
    }
}

/// Builds a command for [`Conn::pipeline`] from string-ish parts.
pub fn command<S: AsRef<[u8]>>(args: &[S]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_ref().to_vec()).collect()
}

/// The text of a string-like reply.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".to_owned()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The error line of an error reply, if `value` is one.
pub fn value_error(value: &Value) -> Option<String> {
    match value {
        Value::ServerError(e) => Some(format!("{} {}", e.code(), e.details().unwrap_or(""))),
        _ => None,
    }
}
