//! The one error type of the SDK.
//!
//! Its `Display` is always a valid Redis error line (an upper-case code, a space, a message, no
//! line breaks), so the boundary can send it as it is.

use std::borrow::Cow;
use std::fmt;

/// What a command (or any SDK call) can fail with. The boundary turns it into an error reply.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The command got the wrong number of arguments: the server's own arity error.
    WrongArity,
    /// The key holds a value of another type.
    WrongType,
    /// `ERR <message>`.
    Generic(Cow<'static, str>),
    /// A full error line with its own code, such as `NOPERM this user has no permissions`.
    Coded(Cow<'static, str>),
    /// The running server lacks this API entry (it is older than the vendored header).
    ApiUnavailable(&'static str),
    /// Module code panicked; the message is the panic's.
    Panic(String),
}

/// The SDK's result type.
pub type Result<T = ()> = std::result::Result<T, Error>;

/// The server's `WRONGTYPE` message, as every built-in command sends it.
pub const WRONGTYPE_MESSAGE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

impl Error {
    /// `ERR <message>`.
    pub fn err(message: impl Into<Cow<'static, str>>) -> Self {
        Error::Generic(message.into())
    }

    /// An error with its own code: `code` is upper-case letters (`NOPERM`, `BUSYKEY`, …).
    pub fn coded(code: &str, message: &str) -> Self {
        Error::Coded(format!("{code} {message}").into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongArity => f.write_str("ERR wrong number of arguments"),
            Error::WrongType => f.write_str(WRONGTYPE_MESSAGE),
            Error::Generic(message) => write!(f, "ERR {}", OneLine(message)),
            Error::Coded(line) => write!(f, "{}", OneLine(line)),
            Error::ApiUnavailable(name) => {
                write!(f, "ERR {name} is not available on this server version")
            }
            Error::Panic(message) => write!(f, "ERR panic: {}", OneLine(message)),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::str::Utf8Error> for Error {
    fn from(_: std::str::Utf8Error) -> Self {
        Error::err("invalid UTF-8 string")
    }
}

/// Writes a message with CR and LF replaced by spaces: a line break would end the error reply
/// early and desynchronise the protocol.
struct OneLine<'s>(&'s str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['\r', '\n']) {
            f.write_str(&rest[..at])?;
            f.write_str(" ")?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_as_redis_error_lines() {
        assert_eq!(Error::err("no such field").to_string(), "ERR no such field");
        assert_eq!(Error::WrongType.to_string(), WRONGTYPE_MESSAGE);
        assert_eq!(
            Error::coded("NOPERM", "no access").to_string(),
            "NOPERM no access"
        );
        assert_eq!(
            Error::Panic("index out of bounds".into()).to_string(),
            "ERR panic: index out of bounds"
        );
        assert_eq!(
            Error::ApiUnavailable("RedisModule_Foo").to_string(),
            "ERR RedisModule_Foo is not available on this server version"
        );
    }

    #[test]
    fn line_breaks_cannot_escape_an_error_reply() {
        let line = Error::err("a\r\nb\nc").to_string();
        assert_eq!(line, "ERR a  b c");
        assert!(!line.contains(['\r', '\n']));
    }
}
