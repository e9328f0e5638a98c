//! `twins`: commands written the natural way with rs-rm, each with a C twin in
//! `bench/ref/twins.c` making the same module API calls in the same order. `bench/twins.sh`
//! compares their instructions per call; this module is built into `target/bench/`, never
//! into `target/modules/` (it is not published).
#![forbid(unsafe_code)]

use rm::{Command, Ctx, Error, Module, RStr, RdbReader, RdbWriter, Result};

/// `TWIN.MGET3 k1 k2 k3`: the three strings' values, nil for a missing key.
fn mget3(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, keys @ ..] = args else {
        return Err(Error::WrongArity);
    };
    ctx.reply_array(keys.len());
    for name in keys {
        let key = ctx.open_key(name);
        if key.is_empty() {
            ctx.reply_null();
        } else {
            ctx.reply_bulk(&key.string_get()?);
        }
    }
    Ok(())
}

/// The 100 elements `TWIN.RANGE100` replies.
const ELEMENT: &[u8] = b"element";

/// `TWIN.RANGE100`: a 100-element array of bulk strings.
fn range100(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    ctx.reply_array(100);
    for _ in 0..100 {
        ctx.reply_bulk(ELEMENT);
    }
    Ok(())
}

/// `TWIN.INCR key`: `INCR key` through the server, and its result.
fn incr(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, key] = args else {
        return Err(Error::WrongArity);
    };
    let reply = ctx.call("INCR", [*key])?.into_result()?;
    let n = reply
        .as_i64()
        .ok_or_else(|| Error::err("INCR did not reply an integer"))?;
    ctx.reply_integer(n);
    Ok(())
}

/// A one-integer data type.
struct Twin {
    value: i64,
}

impl rm::DataType for Twin {
    const NAME: &'static str = "twin-type";
    const ENCODING_VERSION: i32 = 1;

    fn rdb_save(&self, io: &mut RdbWriter<'_>) {
        io.save_signed(self.value);
    }

    fn rdb_load(io: &mut RdbReader<'_>, _encver: i32) -> Result<Self> {
        Ok(Twin {
            value: io.load_signed()?,
        })
    }
}

/// `TWIN.TYPESET key n`: stores `n` as a `twin-type` value (setup for `TWIN.TYPEGET`).
fn typeset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, n] = args else {
        return Err(Error::WrongArity);
    };
    let value = n.parse_i64()?;
    let mut key = ctx.open_key_writable(name);
    key.set_value(Twin { value })?;
    ctx.reply_ok();
    Ok(())
}

/// `TWIN.TYPEGET key`: the `twin-type` value's integer, or nil.
fn typeget(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name] = args else {
        return Err(Error::WrongArity);
    };
    let key = ctx.open_key(name);
    match key.value::<Twin>()? {
        Some(twin) => ctx.reply_integer(twin.value),
        None => ctx.reply_null(),
    }
    Ok(())
}

/// `TWIN.BLOCK`: blocks the client; a thread unblocks it with 42, which the reply callback
/// replies. The thread is the SDK's detached one (`rm::spawn`), as C's is a detached pthread.
fn block(ctx: &Ctx, _args: &[&RStr]) -> Result<()> {
    let blocked = ctx.block_client(rm::BlockOptions::new(block_reply))?;
    rm::spawn(move || blocked.unblock(42i64))
}

fn block_reply(ctx: &Ctx, value: i64) -> Result<()> {
    ctx.reply_integer(value);
    Ok(())
}

fn module() -> Module {
    Module::new("twins", 1)
        .command(
            Command::new("twin.mget3", mget3)
                .usage("TWIN.MGET3 key key key")
                .summary("The values of three string keys")
                .flags("readonly fast")
                .keys(1, 3, 1)
                .arity(4),
        )
        .command(
            Command::new("twin.range100", range100)
                .usage("TWIN.RANGE100")
                .summary("A fixed 100-element array")
                .flags("readonly fast")
                .arity(1),
        )
        .command(
            Command::new("twin.incr", incr)
                .usage("TWIN.INCR key")
                .summary("INCR through RedisModule_Call")
                .flags("write deny-oom fast")
                .keys(1, 1, 1)
                .arity(2),
        )
        .command(
            Command::new("twin.typeset", typeset)
                .usage("TWIN.TYPESET key value")
                .summary("Stores an integer as a twin-type value")
                .flags("write deny-oom fast")
                .keys(1, 1, 1)
                .arity(3),
        )
        .command(
            Command::new("twin.typeget", typeget)
                .usage("TWIN.TYPEGET key")
                .summary("The integer of a twin-type value")
                .flags("readonly fast")
                .keys(1, 1, 1)
                .arity(2),
        )
        .command(
            Command::new("twin.block", block)
                .usage("TWIN.BLOCK")
                .summary("Blocks; a thread unblocks with 42")
                .flags("readonly")
                .arity(1),
        )
        .on_load(|ctx, _args| ctx.create_data_type::<Twin>())
}

rm::module!(module);

#[cfg(test)]
mod definition {
    /// Usage lines and key flags as the load checks them.
    #[test]
    fn is_valid() {
        super::module().check().unwrap();
    }
}
