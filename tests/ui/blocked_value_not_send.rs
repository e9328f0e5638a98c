// A blocked client's value must be `Send`: no server string in it (src/blocked.rs).
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let blocked = ctx.block_client(rm::BlockOptions::new(|ctx: &rm::Ctx, s: rm::RString| {
        ctx.reply_string(&s);
        Ok(())
    }))?;
    blocked.unblock(args[1].to_owned_string());
    Ok(())
}

fn main() {
    let _ = cmd;
}
