// The twin of ../arg_kept.rs: a copy of the argument's bytes is kept.
use std::cell::RefCell;
thread_local!(static ARG: RefCell<Option<Vec<u8>>> = RefCell::new(None));

fn keep(_ctx: &rm::Ctx, args: &[&rm::RStr]) -> rm::Result<()> {
    ARG.with(|kept| *kept.borrow_mut() = Some(args[1].as_bytes().to_vec()));
    Ok(())
}

fn main() {
    let _ = keep;
}
