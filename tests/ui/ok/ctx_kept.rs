// The twin of ../ctx_kept.rs: what is kept is a value the context gave, not the context.
use std::cell::RefCell;
thread_local!(static KEPT: RefCell<Option<usize>> = RefCell::new(None));

fn keep(ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    let len = ctx.open_key(args[1]).len();
    KEPT.with(|kept| *kept.borrow_mut() = Some(len));
    Ok(())
}

fn main() {
    let _ = keep;
}
