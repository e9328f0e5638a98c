// An argument cannot be kept past its callback (src/ctx.rs).
use std::cell::RefCell;
thread_local!(static ARG: RefCell<Option<&'static rm::RStr>> = RefCell::new(None));

fn keep(_ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    ARG.with(|kept| *kept.borrow_mut() = Some(args[1]));
    Ok(())
}

fn main() {
    let _ = keep;
}
