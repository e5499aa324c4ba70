//! "Did you mean": the nearest of a set of names to a mistyped one, by edit distance.

/// The edit distance between `a` and `b`: insertions, deletions and substitutions of
/// characters, and swaps of two neighbours (`fiel` for `file`), each counting one.
pub fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let width = b.len() + 1;
    // d[i * width + j]: the distance between the first i characters of a and j of b.
    let mut d: Vec<usize> = vec![0; (a.len() + 1) * width];
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * width] = i;
        for j in 1..=b.len() {
            let mut best = (d[(i - 1) * width + j - 1] + usize::from(a[i - 1] != b[j - 1]))
                .min(d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// The candidate nearest to `name`, if one is near enough to be what was meant: at most a
/// third of the longer name's characters differ (at least one edit allowed). Of equally near
/// ones, the first in alphabetical order (whatever order the candidates come in).
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|&(d, c)| d <= (name.chars().count().max(c.chars().count()) / 3).max(1))
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}

/// `", did you mean `X`?"` for the nearest candidate, or nothing.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("synk", "sync"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("«é»", "«e»"), 1);
        assert_eq!(distance("fiel", "file"), 1);
        assert_eq!(distance("abc", ""), 3);
    }

    #[test]
    fn nearest_is_near_enough_or_nothing() {
        let names = ["sync", "locate", "fmt", "watch"];
        assert_eq!(nearest("synk", names), Some("sync"));
        assert_eq!(nearest("locat", names), Some("locate"));
        assert_eq!(nearest("zzzzzz", names), None);
        assert_eq!(
            nearest("read a request", ["read the request", "write"]),
            Some("read the request")
        );
    }
}
