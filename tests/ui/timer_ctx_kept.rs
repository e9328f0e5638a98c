// A timer callback's `Ctx` is lent for the callback only (src/timer.rs).
use std::cell::RefCell;
thread_local!(static KEPT: RefCell<Option<&'static rm::Ctx<'static>>> = RefCell::new(None));

fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    ctx.create_timer(std::time::Duration::ZERO, (), |ctx: &rm::Ctx, ()| {
        KEPT.with(|kept| *kept.borrow_mut() = Some(ctx));
        Ok(())
    });
    Ok(())
}

fn main() {
    let _ = cmd;
}
