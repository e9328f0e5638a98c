// The twin of ../call_value_outlives_reply.rs: the element is used while the reply lives.
fn first(ctx: &rm::Ctx) -> rm::Result<()> {
    {
        let reply = ctx.call("LRANGE", ("list", 0, -1))?;
        let value = reply.value();
        let _ = value;
    }
    Ok(())
}

fn main() {
    let _ = first;
}
