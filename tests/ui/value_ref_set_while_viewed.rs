// A module type's value cannot be replaced while a view of it is alive (src/view.rs, `ValueRef`).
struct Counter {
    n: i64,
}

impl rm::DataType for Counter {
    const NAME: &'static str = "counter-1";
    const ENCODING_VERSION: i32 = 1;
    fn rdb_save(&self, _io: &mut rm::RdbWriter) {}
    fn rdb_load(_io: &mut rm::RdbReader, _v: i32) -> rm::Result<Self> {
        Ok(Counter { n: 0 })
    }
}

fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let mut key = ctx.open_key_writable(args[1]);
    if let Some(counter) = key.value::<Counter>()? {
        key.set_value(Counter { n: counter.n + 1 })?; // would free `counter`
    }
    Ok(())
}

fn main() {
    let _ = cmd;
}
