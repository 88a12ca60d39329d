//! CPU work on a file's rows split over two threads (the machine sitrep is measured on has two
//! cores, and while a file is read the database has nothing to do): the readers map records
//! and the import digests rows this way.

/// `f` of every item of `items`, in order: the first half on a second thread, the rest on this
/// one; small inputs (fewer than `at_least` items) on this thread alone. A panic in `f` (a bug)
/// is passed on as this thread's own.
pub(crate) fn map_in_halves<T: Sync, R: Send>(
    items: &[T],
    at_least: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let map_all = |items: &[T]| -> Vec<R> { items.iter().map(&f).collect() };
    if items.len() < at_least.max(2) {
        return map_all(items);
    }
    let (first, second) = items.split_at(items.len() / 2);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| map_all(first));
        let second = map_all(second);
        let mut mapped = first
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        mapped.extend(second);
        mapped
    })
}

#[cfg(test)]
mod tests {
    use super::map_in_halves;

    #[test]
    fn order_is_kept_at_every_size() {
        for n in [0, 1, 2, 3, 63, 64, 1001] {
            let items: Vec<u32> = (0..n).collect();
            let doubled = map_in_halves(&items, 2, |i| i * 2);
            assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        }
    }
}
