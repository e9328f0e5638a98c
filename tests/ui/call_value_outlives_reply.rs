// An element of a call's reply cannot outlive the reply (src/call/reply.rs).
fn first(ctx: &rm::Ctx) -> rm::Result<()> {
    let value;
    {
        let reply = ctx.call("LRANGE", ("list", 0, -1))?;
        value = reply.value();
    }
    let _ = value;
    Ok(())
}

fn main() {
    let _ = first;
}
