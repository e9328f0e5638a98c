// The twin of ../view_delete_while_viewed.rs: the view is dropped before the delete.
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let mut key = ctx.open_key_writable(args[1]);
    let bytes = key.string_get()?;
    ctx.reply_bulk(&bytes);
    drop(bytes);
    key.delete()?;
    Ok(())
}

fn main() {
    let _ = cmd;
}
