// The twin of ../blocked_reply_ctx_kept.rs: the callback uses its context and keeps nothing.
fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    let _blocked = ctx.block_client(rm::BlockOptions::new(|ctx: &rm::Ctx, v: i64| {
        ctx.reply_integer(v);
        Ok(())
    }))?;
    Ok(())
}

fn main() {
    let _ = cmd;
}
