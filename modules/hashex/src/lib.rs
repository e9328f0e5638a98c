//! `hashex`: HGETSET, the seed demo of rs-rm.
//!
//! `HGETSET key field value` sets `field` of the hash at `key` to `value` and returns the
//! field's old value (nil if it had none), atomically — as `GETSET` does for strings.
#![forbid(unsafe_code)]

use rm::{Command, Ctx, Error, KeyType, Module, RStr, Result};

fn hgetset(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    let [_, key, field, value] = args else {
        return Err(Error::WrongArity);
    };
    let key = ctx.open_key_writable(key);
    key.expect_type(KeyType::Hash)?;
    let old = key.hash_get(field)?;
    key.hash_set(field, value)?;
    match old {
        Some(old) => ctx.reply_string(&old),
        None => ctx.reply_null(),
    }
    ctx.replicate_verbatim();
    Ok(())
}

fn module() -> Module {
    Module::new("hashex", 1).command(
        Command::new("hgetset", hgetset)
            .usage("HGETSET key field value")
            .summary("Sets a hash field to a value and returns its old value")
            .since("0.1.0")
            .complexity("O(1)")
            .flags("write fast deny-oom")
            .keys(1, 1, 1)
            .arity(4),
    )
}

rm::module!(module);

#[cfg(test)]
mod definition {
    /// Usage lines and key flags as the load checks them (a bad one would refuse the load).
    #[test]
    fn is_valid() {
        super::module().check().unwrap();
    }
}
