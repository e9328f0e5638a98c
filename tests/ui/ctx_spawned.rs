// A callback's `Ctx` stays on the main thread (src/thread.rs).
fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    std::thread::spawn(move || ctx.reply_ok());
    Ok(())
}

fn main() {
    let _ = cmd;
}
