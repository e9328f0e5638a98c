// A view cannot outlive its key (src/view.rs, `StrView`).
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let bytes = {
        let key = ctx.open_key(args[1]);
        key.string_get()?
    }; // the key closes here
    ctx.reply_bulk(&bytes);
    Ok(())
}

fn main() {
    let _ = cmd;
}
