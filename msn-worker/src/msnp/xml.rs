//! Reading the XML the SOAP services answer with: every element's text,
//! with the path of local names (no namespace prefixes) that leads to it.
//! Bounded in depth; entity references are resolved.

use quick_xml::events::Event;
use quick_xml::Reader;

/// Text made safe inside an element or attribute (`&`, `<`, `>`, quotes).
pub fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// Calls `element(path, text)` as each element ends, with its own text
/// (trimmed; empty for elements holding only elements). The path ends
/// with the element's own local name.
pub fn walk(body: &[u8], mut element: impl FnMut(&[String], &str)) -> Result<(), String> {
    let mut reader = Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Start(e) => {
                if path.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                texts.push(String::new());
            }
            Event::Empty(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                element(&path, "");
                path.pop();
            }
            Event::End(_) => {
                let text = texts.pop().unwrap_or_default();
                element(&path, text.trim());
                path.pop();
            }
            Event::Text(t) => {
                let t = t.decode().map_err(|e| e.to_string())?;
                if let Some(open) = texts.last_mut() {
                    open.push_str(&t);
                }
            }
            Event::CData(t) => {
                if let Some(open) = texts.last_mut() {
                    open.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let resolved = match name.as_str() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().map_err(|e| e.to_string())?,
                };
                let c = resolved.ok_or_else(|| format!("unknown entity &{name};"))?;
                if let Some(open) = texts.last_mut() {
                    open.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    match path.is_empty() {
        true => Ok(()),
        false => Err(format!("ends inside <{}>", path.join("/"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_come_with_their_path_and_resolved_text() {
        let mut seen = Vec::new();
        walk(
            b"<a:Root xmlns:a=\"x\"><B>t=1&amp;p=&#65;</B><C/><D><E> e </E></D></a:Root>",
            |path, text| seen.push((path.join("/"), text.to_owned())),
        )
        .unwrap();
        assert_eq!(
            seen,
            [
                ("Root/B".to_owned(), "t=1&p=A".to_owned()),
                ("Root/C".to_owned(), String::new()),
                ("Root/D/E".to_owned(), "e".to_owned()),
                ("Root/D".to_owned(), String::new()),
                ("Root".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn broken_or_endless_documents_are_errors() {
        assert!(walk(b"<a><b></a>", |_, _| {}).is_err());
        assert!(walk(b"<a><b>", |_, _| {}).is_err());
        assert!(walk(b"<a>&bogus;</a>", |_, _| {}).is_err());
        let deep = "<a>".repeat(100);
        assert!(walk(deep.as_bytes(), |_, _| {}).is_err());
    }
}
