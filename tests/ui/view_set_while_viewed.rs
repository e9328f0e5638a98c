// A string cannot be replaced while a view of it is alive (src/view.rs, `StrView`).
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let mut key = ctx.open_key_writable(args[1]);
    let bytes = key.string_get()?;
    key.string_set(args[2])?; // would free what `bytes` points into
    ctx.reply_bulk(&bytes);
    Ok(())
}

fn main() {
    let _ = cmd;
}
