// The twin of ../call_reply_sent.rs: the reply is dropped on the thread that made it.
fn send(ctx: &rm::Ctx) -> rm::Result<()> {
    let reply = ctx.call("PING", ())?;
    std::thread::spawn(move || 1 + 1);
    drop(reply);
    Ok(())
}

fn main() {
    let _ = send;
}
