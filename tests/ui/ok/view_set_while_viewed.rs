// The twin of ../view_set_while_viewed.rs: the view is dropped before the write.
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let mut key = ctx.open_key_writable(args[1]);
    let bytes = key.string_get()?;
    ctx.reply_bulk(&bytes);
    drop(bytes);
    key.string_set(args[2])?;
    Ok(())
}

fn main() {
    let _ = cmd;
}
