// A context cannot be lent to another thread (src/ctx.rs).
fn send(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    std::thread::scope(|s| {
        s.spawn(|| ctx.reply_ok());
    });
    Ok(())
}

fn main() {
    let _ = send;
}
