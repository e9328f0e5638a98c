// A call's reply cannot go to another thread (src/call/reply.rs).
fn send(ctx: &rm::Ctx) -> rm::Result<()> {
    let reply = ctx.call("PING", ())?;
    std::thread::spawn(move || drop(reply));
    Ok(())
}

fn main() {
    let _ = send;
}
