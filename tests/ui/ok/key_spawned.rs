// The twin of ../key_spawned.rs: what the key tells is read first, and that crosses.
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let key = ctx.open_key(args[1]);
    let len = key.len();
    std::thread::spawn(move || len);
    Ok(())
}

fn main() {
    let _ = cmd;
}
