//! Nomad's two output shapes: columns separated by two spaces, and `Key = value` lines aligned
//! on the `=`.

/// Columns under `headers`, each as wide as its widest cell; the last column is not padded.
pub fn columns(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        let cells: Vec<&str> = cells.collect();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = vec![line(&mut headers.iter().copied())];
    for row in rows {
        out.push(line(&mut row.iter().map(String::as_str)));
    }
    out.join("\n")
}

/// `Key = value` lines with the `=` aligned.
pub fn pairs(items: &[(&str, String)]) -> String {
    let width = items
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    items
        .iter()
        .map(|(k, v)| {
            let pad = width - k.chars().count();
            format!("{k}{} = {v}", " ".repeat(pad))
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_pairs_line_up() {
        let t = columns(
            &["ID", "Name"],
            &[
                vec!["a-long-id".into(), "x".into()],
                vec!["b".into(), "".into()],
            ],
        );
        assert_eq!(t, "ID         Name\na-long-id  x\nb");
        assert_eq!(
            pairs(&[("ID", "a".into()), ("Plugin ID", "p".into())]),
            "ID        = a\nPlugin ID = p"
        );
    }
}
