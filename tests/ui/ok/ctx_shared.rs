// The twin of ../ctx_shared.rs: the scoped thread computes, the context replies.
fn send(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    let n = std::thread::scope(|s| s.spawn(|| 1 + 1).join().unwrap_or(0));
    ctx.reply_integer(n);
    Ok(())
}

fn main() {
    let _ = send;
}
