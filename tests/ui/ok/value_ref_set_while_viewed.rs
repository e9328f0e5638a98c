// The twin of ../value_ref_set_while_viewed.rs: the view ends before the write.
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
    let n = key.value::<Counter>()?.map(|counter| counter.n);
    if let Some(n) = n {
        key.set_value(Counter { n: n + 1 })?;
    }
    Ok(())
}

fn main() {
    let _ = cmd;
}
