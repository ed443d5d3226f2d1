//! A flat, pre-order copy of the parsed tree and the content-scoring passes over it.
//!
//! Every pass here is a loop over indices, never recursion: the tree may be thousands of levels
//! deep on hostile input. Pre-order numbering makes "the subtree of i" the index range
//! `i..end[i]`, so skipping a removed subtree is a jump, and bottom-up sums are a reverse loop.

use scraper::node::Element;
use scraper::{Html, Node};
use std::collections::HashMap;

/// Sentinel parent of the root.
pub(crate) const NONE: u32 = u32::MAX;

/// One node of the flat tree.
pub(crate) struct DNode<'a> {
    /// Index of the parent, or [`NONE`].
    pub parent: u32,
    /// One past the last index of this node's subtree.
    pub end: u32,
    /// Lower-case tag name for elements, `""` for text and the document.
    pub name: &'a str,
    /// The element, for attribute access.
    pub el: Option<&'a Element>,
    /// Text content for text nodes.
    pub text: Option<&'a str>,
    /// Lower-cased `class` and `id` attributes joined by a space (empty if neither).
    pub cls: String,
}

/// The flat tree plus a map from scraper node ids (for selector matches) to indices.
pub(crate) struct Dom<'a> {
    pub nodes: Vec<DNode<'a>>,
    pub ids: HashMap<ego_tree::NodeId, u32>,
    /// Scraper node id of each flat index.
    pub node_ids: Vec<ego_tree::NodeId>,
}

/// Elements whose children are never content; they are kept as leaves so they can be skipped.
fn opaque(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "template" | "svg" | "math" | "noscript" | "select" | "textarea"
    )
}

impl<'a> Dom<'a> {
    /// Flattens the parsed document. Iterative; linear in the number of nodes.
    pub(crate) fn build(doc: &'a Html) -> Dom<'a> {
        let mut nodes: Vec<DNode<'a>> = Vec::with_capacity(1024);
        let mut ids = HashMap::with_capacity(1024);
        let mut node_ids = Vec::with_capacity(1024);
        let mut stack = vec![(doc.tree.root(), NONE)];
        while let Some((node, parent)) = stack.pop() {
            let idx = u32::try_from(nodes.len()).unwrap_or(NONE - 1);
            let (name, el, text, descend) = match node.value() {
                Node::Element(e) => {
                    let n = e.name();
                    (n, Some(e), None, !opaque(n))
                }
                Node::Text(t) => ("", None, Some(&**t), false),
                Node::Document | Node::Fragment => ("", None, None, true),
                _ => continue,
            };
            let cls = match el {
                Some(e) if e.attr("class").is_some() || e.attr("id").is_some() => {
                    let mut s = String::new();
                    if let Some(c) = e.attr("class") {
                        s.push_str(c);
                    }
                    if let Some(i) = e.attr("id") {
                        s.push(' ');
                        s.push_str(i);
                    }
                    s.make_ascii_lowercase();
                    s
                }
                _ => String::new(),
            };
            nodes.push(DNode {
                parent,
                end: idx.saturating_add(1),
                name,
                el,
                text,
                cls,
            });
            node_ids.push(node.id());
            if el.is_some() {
                ids.insert(node.id(), idx);
            }
            if descend {
                // Reverse so that the first child is popped (and numbered) first.
                let mut c = node.last_child();
                while let Some(ch) = c {
                    stack.push((ch, idx));
                    c = ch.prev_sibling();
                }
            }
        }
        // Subtree ends, bottom-up.
        for i in (0..nodes.len()).rev() {
            let p = nodes[i].parent;
            if p != NONE {
                let e = nodes[i].end;
                let pn = &mut nodes[p as usize];
                pn.end = pn.end.max(e);
            }
        }
        Dom {
            nodes,
            ids,
            node_ids,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Index of the first element called `name`, if any.
    pub(crate) fn find_tag(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
}

/// True if `outer`'s subtree contains `inner` (or they are the same node).
pub(crate) fn contains_range(dom: &Dom<'_>, outer: usize, inner: usize) -> bool {
    outer <= inner && dom.nodes.get(outer).is_some_and(|n| inner < n.end as usize)
}

/// Approximate visible length of a text run: characters that are not whitespace.
pub(crate) fn text_len(s: &str) -> u32 {
    let n = s
        .as_bytes()
        .iter()
        .filter(|&&b| !b.is_ascii_whitespace() && (b & 0xC0) != 0x80)
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Block-level elements: they start and end paragraphs.
pub(crate) fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "section"
            | "article"
            | "main"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dd"
            | "dt"
            | "blockquote"
            | "pre"
            | "table"
            | "tr"
            | "td"
            | "th"
            | "caption"
            | "figure"
            | "figcaption"
            | "header"
            | "footer"
            | "aside"
            | "nav"
            | "form"
            | "fieldset"
            | "address"
            | "center"
            | "details"
            | "summary"
            | "body"
            | "html"
            | "hr"
            | "dialog"
            | "legend"
    )
}

/// Per-node raw statistics (no removal applied): non-link text length of each subtree.
pub(crate) fn raw_nonlink_chars(dom: &Dom<'_>) -> Vec<u32> {
    let n = dom.len();
    let mut in_link = vec![false; n];
    for i in 0..n {
        let node = &dom.nodes[i];
        let p = node.parent;
        let parent_link = p != NONE && in_link[p as usize];
        in_link[i] = parent_link || node.name == "a";
    }
    let mut chars = vec![0u32; n];
    for i in (0..n).rev() {
        let node = &dom.nodes[i];
        if let Some(t) = node.text {
            if !in_link[i] {
                chars[i] = chars[i].saturating_add(text_len(t));
            }
        }
        let p = node.parent;
        if p != NONE {
            chars[p as usize] = chars[p as usize].saturating_add(chars[i]);
        }
    }
    chars
}

/// Per-block statistics after removal.
pub(crate) struct BlockStats {
    /// Nearest block ancestor (or self) of every node.
    pub block_of: Vec<u32>,
    /// Text length directly in each block (not in nested blocks).
    pub direct: Vec<u32>,
    /// Link text length directly in each block.
    pub direct_link: Vec<u32>,
    /// Sum over the subtree of "good" text (paragraph-like blocks with few links).
    pub good: Vec<f32>,
    /// Sum over the subtree of "noise" text (link lists, short fragments).
    pub noise: Vec<f32>,
}

/// Is a block's direct text mostly links?
pub(crate) fn link_dense(direct: u32, link: u32) -> bool {
    direct > 0 && f64::from(link) > 0.5 * f64::from(direct)
}

/// Computes block statistics over nodes that are not removed.
pub(crate) fn block_stats(dom: &Dom<'_>, removed: &[bool]) -> BlockStats {
    let n = dom.len();
    let mut block_of = vec![NONE; n];
    let mut in_link = vec![false; n];
    let mut direct = vec![0u32; n];
    let mut direct_link = vec![0u32; n];
    let mut visited = vec![false; n];
    let mut i = 0;
    while i < n {
        if removed[i] {
            i = dom.nodes[i].end as usize;
            continue;
        }
        visited[i] = true;
        let node = &dom.nodes[i];
        let p = node.parent;
        let (pblock, plink) = if p == NONE {
            (NONE, false)
        } else {
            (block_of[p as usize], in_link[p as usize])
        };
        block_of[i] = if node.el.is_some() && is_block(node.name) {
            u32::try_from(i).unwrap_or(NONE)
        } else {
            pblock
        };
        in_link[i] = plink || node.name == "a";
        if let Some(t) = node.text {
            let b = block_of[i];
            if b != NONE {
                let len = text_len(t);
                direct[b as usize] = direct[b as usize].saturating_add(len);
                if in_link[i] {
                    direct_link[b as usize] = direct_link[b as usize].saturating_add(len);
                }
            }
        }
        i += 1;
    }
    let mut good = vec![0f32; n];
    let mut noise = vec![0f32; n];
    for b in 0..n {
        let d = direct[b];
        if d == 0 {
            continue;
        }
        let l = direct_link[b];
        let name = dom.nodes[b].name;
        let heading = matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
        if link_dense(d, l) {
            noise[b] += d as f32;
        } else if d >= 80 || (d >= 40 && name == "p") {
            good[b] += (d - l) as f32;
        } else if heading || matches!(name, "td" | "th") {
            // Headings and table cells are neutral: they belong to whatever surrounds them.
        } else {
            noise[b] += 0.3 * d as f32;
        }
    }
    for i in (0..n).rev() {
        if !visited[i] {
            continue;
        }
        let p = dom.nodes[i].parent;
        if p != NONE {
            good[p as usize] += good[i];
            noise[p as usize] += noise[i];
        }
    }
    BlockStats {
        block_of,
        direct,
        direct_link,
        good,
        noise,
    }
}

/// Appends `text` to `out`, collapsing whitespace runs into one space.
fn push_collapsed(out: &mut String, text: &str) {
    let mut pending_space = text.starts_with(|c: char| c.is_whitespace());
    for word in text.split_whitespace() {
        if pending_space && !out.is_empty() && !out.ends_with(' ') && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(word);
        pending_space = true;
    }
    if text.ends_with(|c: char| c.is_whitespace()) && !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Renders the subtree at `root` as paragraphs, skipping removed subtrees and link-dense blocks.
/// With `stats`, text in blocks whose direct text is mostly links is dropped.
pub(crate) fn render(
    dom: &Dom<'_>,
    root: usize,
    skip: &dyn Fn(usize) -> bool,
    stats: Option<&BlockStats>,
) -> Vec<String> {
    let mut paras: Vec<String> = Vec::new();
    let mut cur = String::new();
    // Open blocks: (end index, is <pre>).
    let mut open: Vec<(u32, bool)> = Vec::new();
    let mut pre_depth = 0usize;
    let end = dom.nodes.get(root).map_or(root, |n| n.end as usize);
    let flush = |cur: &mut String, paras: &mut Vec<String>| {
        let t = cur.trim();
        if !t.is_empty() {
            paras.push(t.to_string());
        }
        cur.clear();
    };
    let mut i = root;
    while i < end {
        while let Some(&(e, is_pre)) = open.last() {
            if (e as usize) <= i {
                open.pop();
                if is_pre {
                    pre_depth = pre_depth.saturating_sub(1);
                }
                flush(&mut cur, &mut paras);
            } else {
                break;
            }
        }
        if skip(i) {
            i = dom.nodes[i].end as usize;
            continue;
        }
        let node = &dom.nodes[i];
        if let Some(t) = node.text {
            let keep = match stats {
                Some(s) => {
                    let b = s.block_of[i];
                    b == NONE || !link_dense(s.direct[b as usize], s.direct_link[b as usize])
                }
                None => true,
            };
            if keep {
                if pre_depth > 0 {
                    cur.push_str(t);
                } else {
                    push_collapsed(&mut cur, t);
                }
            }
        } else if node.el.is_some() {
            if node.name == "br" {
                let trimmed = cur.trim_end_matches(' ').len();
                cur.truncate(trimmed);
                cur.push('\n');
            } else if matches!(node.name, "td" | "th") {
                // Table cells: keep a row on one line, cells separated by a space.
                push_collapsed(&mut cur, " ");
            } else if is_block(node.name) {
                flush(&mut cur, &mut paras);
                let is_pre = node.name == "pre";
                if is_pre {
                    pre_depth += 1;
                }
                open.push((node.end, is_pre));
            } else if matches!(node.name, "img" | "input" | "hr" | "wbr") {
                // Void elements carry no text.
            }
        }
        i += 1;
    }
    flush(&mut cur, &mut paras);
    paras
}
