// The twin of ../timer_ctx_kept.rs: the callback keeps what it learned, not the context.
use std::cell::RefCell;
thread_local!(static KEPT: RefCell<Option<usize>> = RefCell::new(None));

fn cmd(ctx: &rm::Ctx, _args: &[&rm::RStr]) -> rm::Result<()> {
    ctx.create_timer(std::time::Duration::ZERO, (), |ctx: &rm::Ctx, ()| {
        let name = rm::RString::from_bytes(b"k");
        let len = ctx.open_key(&name).len();
        KEPT.with(|kept| *kept.borrow_mut() = Some(len));
        Ok(())
    });
    Ok(())
}

fn main() {
    let _ = cmd;
}
