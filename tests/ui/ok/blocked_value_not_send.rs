// The twin of ../blocked_value_not_send.rs: the value is the argument's bytes.
fn cmd(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let blocked = ctx.block_client(rm::BlockOptions::new(|ctx: &rm::Ctx, s: Vec<u8>| {
        ctx.reply_bulk(&s);
        Ok(())
    }))?;
    blocked.unblock(args[1].as_bytes().to_vec());
    Ok(())
}

fn main() {
    let _ = cmd;
}
