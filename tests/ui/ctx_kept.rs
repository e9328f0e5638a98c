// A context cannot be kept past its callback (src/ctx.rs).
use std::cell::RefCell;
thread_local!(static KEPT: RefCell<Option<&'static rm::Ctx<'static>>> = RefCell::new(None));

fn keep(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    KEPT.with(|kept| *kept.borrow_mut() = Some(ctx));
    Ok(())
}

fn main() {
    let _ = keep;
}
