// The twin of ../view_outlives_key.rs: the view is used while its key is open.
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    {
        let key = ctx.open_key(args[1]);
        let bytes = key.string_get()?;
        ctx.reply_bulk(&bytes);
    } // the key closes here
    Ok(())
}

fn main() {
    let _ = cmd;
}
