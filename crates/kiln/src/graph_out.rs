//! `kiln run --graph[=FILE]`: the task graph of a run, instead of running it, in the forms
//! `turbo run --graph` writes: DOT on stdout, or a file chosen by its extension (`.dot`,
//! `.json`, `.mermaid`, `.html`, `.svg`, and `.png` through Graphviz's `dot` when it is
//! installed). The SVG (alone, or inside the HTML page) is laid out by kiln itself, in
//! layers by depth with dependencies below, so it needs no Graphviz.

use std::fmt::Write as _;
use std::path::Path;

use kiln_graph::TaskGraph;
use serde_json::json;

use crate::exit::Exit;

/// Prints or writes the graph; `target` is the flag's value (`""`: DOT on stdout). A
/// relative file is relative to `cwd`.
pub(crate) fn write(graph: &TaskGraph, target: &str, cwd: &Path) -> Result<(), Exit> {
    if target.is_empty() {
        use std::io::Write;
        let _ = std::io::stdout()
            .lock()
            .write_all(graph.to_dot().as_bytes());
        return Ok(());
    }
    let path = cwd.join(target);
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bytes: Vec<u8> = match extension.as_str() {
        "dot" | "gv" => graph.to_dot().into_bytes(),
        "json" => serde_json::to_vec_pretty(&to_json(graph)).unwrap_or_default(),
        "mermaid" | "mmd" => to_mermaid(graph).into_bytes(),
        "svg" => to_svg(graph).into_bytes(),
        "html" => to_html(graph).into_bytes(),
        "png" => graphviz_png(graph)?,
        other => {
            return Err(Exit::Usage(format!(
                "--graph={target}: `.{other}` is not a graph format kiln writes; use .dot, \
                 .json, .mermaid, .html, .svg or .png"
            )));
        }
    };
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| Exit::user(e.to_string()))?;
    }
    fs_err::write(&path, bytes).map_err(|e| Exit::user(e.to_string()))?;
    eprintln_path(&path);
    Ok(())
}

fn eprintln_path(path: &Path) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "kiln: wrote the task graph to {}",
        path.display()
    );
}

fn to_json(graph: &TaskGraph) -> serde_json::Value {
    let tasks: Vec<_> = graph
        .nodes()
        .iter()
        .map(|node| {
            json!({
                "taskId": node.id.to_string(),
                "dependencies": graph.dependencies(&node.id).map(|d| d.to_string()).collect::<Vec<_>>(),
                "noop": node.is_noop(),
            })
        })
        .collect();
    json!({ "tasks": tasks })
}

fn to_mermaid(graph: &TaskGraph) -> String {
    let mut out = String::from("graph TD\n");
    let name = |i: usize| format!("T{i}");
    for (i, node) in graph.nodes().iter().enumerate() {
        let _ = writeln!(out, "\t{}(\"{}\")", name(i), node.id);
    }
    for (i, deps) in graph.deps().iter().enumerate() {
        for &d in deps {
            let _ = writeln!(out, "\t{} --> {}", name(i), name(d));
        }
    }
    out
}

/// Graphviz renders the DOT form; without it a PNG cannot be made here.
fn graphviz_png(graph: &TaskGraph) -> Result<Vec<u8>, Exit> {
    use std::io::Write;
    let child = std::process::Command::new("dot")
        .arg("-Tpng")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = child.map_err(|_| {
        Exit::user(
            "--graph=*.png needs Graphviz's `dot` on PATH (or write .svg or .html, which kiln \
             draws itself)",
        )
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(graph.to_dot().as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Exit::user(format!("Graphviz `dot` failed: {e}")))?;
    if !out.status.success() {
        return Err(Exit::user(format!(
            "Graphviz `dot` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

const NODE_HEIGHT: usize = 28;
const LAYER_GAP: usize = 56;
const NODE_GAP: usize = 16;
const MARGIN: usize = 20;

/// A layered drawing: layer = the longest path down to a task with no dependency, drawn
/// bottom up, so every edge points down at what it waits for.
pub(crate) fn to_svg(graph: &TaskGraph) -> String {
    let n = graph.len();
    // Graph order is topological: a node's dependencies come before it.
    let mut layer = vec![0usize; n];
    for i in 0..n {
        layer[i] = graph.deps()[i]
            .iter()
            .map(|&d| layer[d] + 1)
            .max()
            .unwrap_or(0);
    }
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let width_of = |i: usize| graph.nodes()[i].id.to_string().chars().count() * 7 + 20;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for i in 0..n {
        rows[layer[i]].push(i);
    }
    let row_width = |row: &[usize]| -> usize {
        row.iter().map(|&i| width_of(i)).sum::<usize>() + NODE_GAP * row.len().saturating_sub(1)
    };
    let total_width = rows.iter().map(|r| row_width(r)).max().unwrap_or(0) + 2 * MARGIN;
    let total_height = layers * NODE_HEIGHT + layers.saturating_sub(1) * LAYER_GAP + 2 * MARGIN;
    // (x of the left edge, y of the top edge) of each node.
    let mut at = vec![(0usize, 0usize); n];
    for (l, row) in rows.iter().enumerate() {
        let y = total_height - MARGIN - NODE_HEIGHT - l * (NODE_HEIGHT + LAYER_GAP);
        let mut x = (total_width - row_width(row)) / 2;
        for &i in row {
            at[i] = (x, y);
            x += width_of(i) + NODE_GAP;
        }
    }
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{total_height}" viewBox="0 0 {total_width} {total_height}" font-family="ui-monospace, monospace" font-size="12">"##
    );
    svg.push_str(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>
"##,
    );
    for (i, deps) in graph.deps().iter().enumerate() {
        for &d in deps {
            let (x1, y1) = (at[i].0 + width_of(i) / 2, at[i].1 + NODE_HEIGHT);
            let (x2, y2) = (at[d].0 + width_of(d) / 2, at[d].1);
            let _ = writeln!(
                svg,
                r##"<line class="edge" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#999" marker-end="url(#arrow)"/>"##
            );
        }
    }
    for (i, node) in graph.nodes().iter().enumerate() {
        let (x, y) = at[i];
        let w = width_of(i);
        let dash = if node.is_noop() {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let id = escape(&node.id.to_string());
        let _ = writeln!(
            svg,
            r##"<g class="task" data-task="{id}"><title>{id}</title><rect x="{x}" y="{y}" width="{w}" height="{NODE_HEIGHT}" rx="5" fill="#f4f6fb" stroke="#3b5bdb"{dash}/><text x="{}" y="{}" text-anchor="middle">{id}</text></g>"##,
            x + w / 2,
            y + NODE_HEIGHT / 2 + 4
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn to_html(graph: &TaskGraph) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kiln task graph</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}p{{color:#555}}</style></head>\n\
         <body><h1>Task graph</h1><p>{} tasks; each arrow points at a task it waits for; dashed \
         tasks have no script and run nothing.</p>\n{}</body></html>\n",
        graph.len(),
        to_svg(graph)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
