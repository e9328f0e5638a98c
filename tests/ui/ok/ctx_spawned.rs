// The twin of ../ctx_spawned.rs: the thread computes, the main thread replies.
fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    let n = std::thread::spawn(move || 1 + 1).join().unwrap_or(0);
    ctx.reply_integer(n);
    Ok(())
}

fn main() {
    let _ = cmd;
}
