//! A data type that survives restarts: named counters stored as their own Redis type, saved
//! in the RDB and rewritten into the AOF.
//!
//! ```text
//! $ cargo build --release --example counter
//! $ redis-server --loadmodule target/release/examples/libcounter.so
//! 127.0.0.1:6379> COUNTER.INCRBY visits 5
//! (integer) 5
//! 127.0.0.1:6379> COUNTER.INCRBY visits 2
//! (integer) 7
//! 127.0.0.1:6379> TYPE visits
//! counter-t
//! 127.0.0.1:6379> DEBUG RELOAD
//! OK
//! 127.0.0.1:6379> COUNTER.GET visits
//! (integer) 7
//! ```
#![forbid(unsafe_code)]

use rm::{AofWriter, Command, Ctx, Error, Module, RStr, RdbReader, RdbWriter, Result};

/// A counter: its value, and how many times it was changed.
struct Counter {
    value: i64,
    changes: u64,
}

impl rm::DataType for Counter {
    const NAME: &'static str = "counter-t";
    // 1 stored only the value; 2 also stores the number of changes.
    const ENCODING_VERSION: i32 = 2;

    fn rdb_save(&self, io: &mut RdbWriter<'_>) {
        io.save_signed(self.value);
        io.save_unsigned(self.changes);
    }

    fn rdb_load(io: &mut RdbReader<'_>, encver: i32) -> Result<Self> {
        let value = io.load_signed()?;
        let changes = if encver >= 2 { io.load_unsigned()? } else { 0 };
        Ok(Counter { value, changes })
    }

    fn aof_rewrite(&self, key: &RStr, aof: &mut AofWriter<'_>) -> Result<()> {
        aof.emit("COUNTER.INCRBY", (key, self.value))
    }

    fn copy(&self) -> Option<Self> {
        Some(Counter {
            value: self.value,
            changes: self.changes,
        })
    }
}

/// `COUNTER.INCRBY key n`: adds `n` (an integer) and replies the new value.
fn incrby(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name, by] = args else {
        return Err(Error::WrongArity);
    };
    let by = by.parse_i64()?;
    let mut key = ctx.open_key_writable(name);
    // WRONGTYPE for a key of another type.
    let changed = match key.value_mut::<Counter>()? {
        Some(mut counter) => {
            counter.value = counter
                .value
                .checked_add(by)
                .ok_or_else(|| Error::err("increment would overflow"))?;
            counter.changes += 1;
            Some(counter.value)
        }
        None => None,
    };
    let value = match changed {
        Some(value) => value,
        None => {
            key.set_value(Counter {
                value: by,
                changes: 1,
            })?;
            by
        }
    };
    ctx.reply_integer(value);
    ctx.replicate_verbatim();
    Ok(())
}

/// `COUNTER.GET key`: the value, or nil.
fn get(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, name] = args else {
        return Err(Error::WrongArity);
    };
    let key = ctx.open_key(name);
    match key.value::<Counter>()? {
        Some(counter) => ctx.reply_integer(counter.value),
        None => ctx.reply_null(),
    }
    Ok(())
}

fn module() -> Module {
    Module::new("counter", 1)
        .command(
            Command::new("counter.incrby", incrby)
                .usage("COUNTER.INCRBY key increment")
                .summary("Adds to a counter and returns its new value")
                .flags("write deny-oom fast")
                .keys(1, 1, 1)
                .arity(3),
        )
        .command(
            Command::new("counter.get", get)
                .usage("COUNTER.GET key")
                .summary("Returns a counter's value")
                .flags("readonly fast")
                .keys(1, 1, 1)
                .arity(2),
        )
        .on_load(|ctx, _args| ctx.create_data_type::<Counter>())
}

rm::module!(module);
