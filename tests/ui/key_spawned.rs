// An open key stays on the main thread (src/thread.rs).
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let key = ctx.open_key(args[1]);
    std::thread::spawn(move || key.len());
    Ok(())
}

fn main() {
    let _ = cmd;
}
