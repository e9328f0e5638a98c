// The reply callback's `Ctx` is lent for the callback only (src/blocked.rs).
use std::cell::RefCell;
thread_local!(static KEPT: RefCell<Option<&'static rm::Ctx<'static>>> = RefCell::new(None));

fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    let _blocked = ctx.block_client(rm::BlockOptions::new(|ctx: &rm::Ctx, _v: i64| {
        KEPT.with(|kept| *kept.borrow_mut() = Some(ctx));
        Ok(())
    }))?;
    Ok(())
}

fn main() {
    let _ = cmd;
}
