//! [`SendString`]: the bytes of a server string, owned and `Send`, for a background thread.

use std::fmt;
use std::ops::Deref;

use crate::string::{RStr, RString};

/// The bytes of a server string in memory of the module's own: `Send` and `Sync`, unlike
/// [`RString`] (a server object whose reference count only the main thread may touch). Copy an
/// argument into one to hand it to a thread ([`RStr::to_send`]); turn it back into a server
/// string where one is needed ([`SendString::to_rstring`], e.g. to open a key under the lock).
///
/// ```no_run
/// use rm::{Ctx, RStr, Result, SendString};
/// fn cmd(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
///     let key: SendString = args[1].to_send(); // one copy, then it may cross threads
///     let tsc = ctx.thread_safe_context();
///     std::thread::spawn(move || {
///         let locked = tsc.lock();
///         let _len = locked.open_key(&key.to_rstring()).string_get().map(|v| v.len());
///     });
///     ctx.reply_ok();
///     Ok(())
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SendString(Box<[u8]>);

impl SendString {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A new server string with these bytes.
    pub fn to_rstring(&self) -> RString {
        RString::from_bytes(&self.0)
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Box<[u8]> {
        self.0
    }
}

impl RStr {
    /// Copies the string's bytes into a [`SendString`], which may go to another thread.
    pub fn to_send(&self) -> SendString {
        SendString(self.as_bytes().into())
    }
}

impl From<&RStr> for SendString {
    fn from(string: &RStr) -> SendString {
        string.to_send()
    }
}

impl From<Vec<u8>> for SendString {
    fn from(bytes: Vec<u8>) -> SendString {
        SendString(bytes.into_boxed_slice())
    }
}

impl From<&[u8]> for SendString {
    fn from(bytes: &[u8]) -> SendString {
        SendString(bytes.into())
    }
}

impl Deref for SendString {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SendString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for SendString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::SendString;

    #[test]
    fn is_send_and_sync_and_keeps_its_bytes() {
        fn crosses_threads<T: Send + Sync + 'static>() {}
        crosses_threads::<SendString>();
        let bytes = SendString::from(b"k\xffey".as_slice());
        assert_eq!(bytes.as_bytes(), b"k\xffey");
        let moved = std::thread::spawn(move || bytes).join().unwrap();
        assert_eq!(&*moved, b"k\xffey");
        assert_eq!(format!("{moved:?}"), "\"k\u{fffd}ey\"");
    }
}
