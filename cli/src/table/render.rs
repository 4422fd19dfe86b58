//! One frame of the live table from a status snapshot: a header and a row per guest. Columns
//! that do not fit are dropped, least useful first, so a narrow terminal never wraps.

use std::path::Path;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use ratatui::Frame;
use roomrec_io_tokio::status::{GuestState, GuestStatus, StatusSnapshot};

/// Shown for what is not known yet (or zero).
pub const NONE: &str = "–";

struct Column {
    title: &'static str,
    /// Widest the column gets.
    max: u16,
    /// Lower is kept longer when the terminal is narrow.
    keep: u8,
    right: bool,
    cell: fn(&GuestStatus) -> String,
}

/// In display order.
const COLUMNS: [Column; 13] = [
    col("STREAM", 16, 0, false, |g| g.stream_id.clone()),
    col("LABEL", 20, 9, false, |g| or_none(g.label.clone())),
    col("STATE", 10, 0, false, |g| state(g.state).to_string()),
    col("CODECS", 10, 5, false, codecs),
    col("RES", 9, 3, true, resolution),
    col("FPS", 5, 4, true, |g| {
        or_none(g.frame_rate.map(|f| format!("{f:.0}")))
    }),
    col("BITRATE", 8, 1, true, |g| rate(g.bitrate_bps)),
    col("LOSS", 6, 6, true, loss),
    col("RTT", 8, 7, true, rtt_or_jitter),
    col("LEVEL", 7, 8, true, |g| {
        or_none(g.audio_level_dbov.map(|l| format!("{l}dB")))
    }),
    col("FILE", 32, 10, false, file_name),
    col("SIZE", 7, 2, true, |g| bytes(g.file_bytes)),
    col("REC", 8, 0, true, |g| duration(g.recorded_seconds)),
];

const fn col(
    title: &'static str,
    max: u16,
    keep: u8,
    right: bool,
    cell: fn(&GuestStatus) -> String,
) -> Column {
    Column {
        title,
        max,
        keep,
        right,
        cell,
    }
}

/// Draws `snapshot` over the whole frame; `log` is where tracing goes meanwhile.
pub fn draw(frame: &mut Frame, snapshot: &StatusSnapshot, log: Option<&Path>) {
    let [head, body] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(frame.area());
    frame.render_widget(Paragraph::new(header(snapshot, log)), head);
    draw_rows(frame, snapshot, body);
}

fn header(s: &StatusSnapshot, log: Option<&Path>) -> Vec<Line<'static>> {
    let active = s
        .guests
        .iter()
        .filter(|g| g.state != GuestState::Left)
        .count();
    let recording = s
        .guests
        .iter()
        .filter(|g| g.state == GuestState::Recording)
        .count();
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let first = Line::styled(
        format!(
            "roomrec · room {} · up {} · {active} guests ({recording} recording) · {} files closed",
            s.room,
            duration(s.uptime_seconds),
            s.files_closed
        ),
        bold,
    );
    let mut second = String::from("Ctrl-C stops and finalizes every file");
    if let Some(log) = log {
        second.push_str(&format!(" · log: {}", log.display()));
    }
    vec![
        first,
        Line::styled(second, Style::default().fg(Color::DarkGray)),
    ]
}

fn draw_rows(frame: &mut Frame, s: &StatusSnapshot, area: Rect) {
    let cells: Vec<Vec<String>> = s
        .guests
        .iter()
        .map(|g| COLUMNS.iter().map(|c| (c.cell)(g)).collect())
        .collect();
    let widths: Vec<u16> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let widest = cells.iter().map(|r| width(&r[i])).max().unwrap_or(0);
            widest.max(width(c.title)).min(c.max)
        })
        .collect();
    let shown = fit(&widths, area.width);
    let header = Row::new(
        shown
            .iter()
            .map(|&i| aligned(COLUMNS[i].title, &COLUMNS[i], widths[i])),
    )
    .style(Style::default().add_modifier(Modifier::REVERSED));
    let rows = s.guests.iter().zip(&cells).map(|(g, row)| {
        Row::new(
            shown
                .iter()
                .map(|&i| aligned(&row[i], &COLUMNS[i], widths[i])),
        )
        .style(row_style(g.state))
    });
    let constraints = shown.iter().map(|&i| Constraint::Length(widths[i]));
    frame.render_widget(
        Table::new(rows, constraints)
            .header(header)
            .column_spacing(1),
        area,
    );
}

/// The columns that fit in `total` (one space between), most useful first, in display order.
fn fit(widths: &[u16], total: u16) -> Vec<usize> {
    let mut by_keep: Vec<usize> = (0..COLUMNS.len()).collect();
    by_keep.sort_by_key(|&i| COLUMNS[i].keep);
    let mut used = 0u16;
    let mut shown = Vec::new();
    for i in by_keep {
        let need = widths[i] + u16::from(!shown.is_empty());
        if used + need <= total {
            used += need;
            shown.push(i);
        }
    }
    shown.sort_unstable();
    shown
}

fn aligned(text: &str, column: &Column, w: u16) -> Cell<'static> {
    let text = clip(text, w);
    let pad = usize::from(w).saturating_sub(width(&text).into());
    if column.right {
        Cell::from(format!("{}{text}", " ".repeat(pad)))
    } else {
        Cell::from(text)
    }
}

fn row_style(state: GuestState) -> Style {
    match state {
        GuestState::Recording => Style::default().fg(Color::Green),
        GuestState::Lost => Style::default().fg(Color::Yellow),
        GuestState::Left => Style::default().fg(Color::DarkGray),
        GuestState::Connecting | GuestState::Waiting => Style::default(),
    }
}

fn width(s: &str) -> u16 {
    u16::try_from(s.chars().count()).unwrap_or(u16::MAX)
}

/// At most `w` characters, the cut marked with `…`.
fn clip(s: &str, w: u16) -> String {
    let w = usize::from(w);
    if s.chars().count() <= w {
        return s.to_string();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn state(s: GuestState) -> &'static str {
    match s {
        GuestState::Connecting => "connecting",
        GuestState::Waiting => "waiting",
        GuestState::Recording => "recording",
        GuestState::Lost => "lost",
        GuestState::Left => "left",
    }
}

fn or_none(v: Option<String>) -> String {
    v.unwrap_or_else(|| NONE.to_string())
}

fn codecs(g: &GuestStatus) -> String {
    match (&g.video_codec, &g.audio_codec) {
        (Some(v), Some(a)) => format!("{v}+{a}"),
        (Some(c), None) | (None, Some(c)) => c.clone(),
        (None, None) => NONE.to_string(),
    }
}

fn resolution(g: &GuestStatus) -> String {
    match (g.width, g.height) {
        (Some(w), Some(h)) => format!("{w}x{h}"),
        _ => NONE.to_string(),
    }
}

fn loss(g: &GuestStatus) -> String {
    if g.packets_received == 0 && g.packets_lost == 0 {
        return NONE.to_string();
    }
    format!("{:.1}%", g.loss_percent)
}

/// RTT when known (RTCP), else the receive jitter, marked `j`.
fn rtt_or_jitter(g: &GuestStatus) -> String {
    match (g.rtt_ms, g.jitter_ms) {
        (Some(rtt), _) => format!("{rtt:.0}ms"),
        (None, Some(j)) => format!("j {j:.0}ms"),
        (None, None) => NONE.to_string(),
    }
}

fn file_name(g: &GuestStatus) -> String {
    let name = g.file.as_deref().map(|f| {
        Path::new(f)
            .file_name()
            .map_or_else(|| f.to_string(), |n| n.to_string_lossy().into_owned())
    });
    or_none(name)
}

/// bits/s as `850k`, `2.5M`.
pub fn rate(bps: u64) -> String {
    match bps {
        0 => NONE.to_string(),
        1..=999_999 => format!("{}k", bps.div_ceil(1000)),
        _ => format!("{:.1}M", bps as f64 / 1e6),
    }
}

/// Bytes as `512K`, `12.3M`, `1.2G`.
pub fn bytes(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    match n {
        0 => NONE.to_string(),
        1..=1_048_575 => format!("{}K", n.div_ceil(1024)),
        1_048_576..=1_073_741_823 => format!("{:.1}M", f / (K * K)),
        _ => format!("{:.1}G", f / (K * K * K)),
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub fn duration(secs: f64) -> String {
    if secs <= 0.0 || !secs.is_finite() {
        return NONE.to_string();
    }
    let s = secs as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;

    fn guest(connection: u64, stream: &str, state: GuestState) -> GuestStatus {
        GuestStatus {
            connection,
            stream_id: stream.into(),
            label: Some(format!("{stream} (synthetic)")),
            state,
            video_codec: Some("vp9".into()),
            audio_codec: Some("opus".into()),
            width: Some(1280),
            height: Some(720),
            frame_rate: Some(29.97),
            bitrate_bps: 2_500_000,
            packets_received: 1000,
            packets_lost: 3,
            loss_percent: 0.3,
            rtt_ms: Some(12.4),
            audio_level_dbov: Some(-30),
            file: Some(format!("/rec/room_{stream}_20260101.mkv")),
            file_bytes: 12_345_678,
            recorded_seconds: 3725.0,
            ..GuestStatus::default()
        }
    }

    fn screen(snapshot: &StatusSnapshot, w: u16, h: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|f| draw(f, snapshot, Some(Path::new("/rec/roomrec.log"))))
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect::<String>())
            .collect()
    }

    fn snapshot() -> StatusSnapshot {
        StatusSnapshot {
            room: "myroom".into(),
            uptime_seconds: 83.0,
            guests: vec![
                guest(1, "alice", GuestState::Recording),
                GuestStatus {
                    connection: 2,
                    stream_id: "bob".into(),
                    ..GuestStatus::default()
                },
            ],
            files_closed: 2,
            ..StatusSnapshot::default()
        }
    }

    #[test]
    fn wide_terminal_shows_every_column_and_a_row_per_guest() {
        let lines = screen(&snapshot(), 200, 6);
        assert!(
            lines[0].contains("room myroom · up 1:23 · 2 guests (1 recording) · 2 files closed"),
            "{lines:#?}"
        );
        assert!(lines[1].contains("log: /rec/roomrec.log"));
        for title in COLUMNS.iter().map(|c| c.title) {
            assert!(lines[2].contains(title), "{title}: {lines:#?}");
        }
        let alice = &lines[3];
        for cell in [
            "alice",
            "alice (synthetic)",
            "recording",
            "vp9+opus",
            "1280x720",
            "30",
            "2.5M",
            "0.3%",
            "12ms",
            "-30dB",
            "room_alice_20260101.mkv",
            "11.8M",
            "1:02:05",
        ] {
            assert!(alice.contains(cell), "{cell:?} in {alice:?}");
        }
        // Nothing known yet: dashes, not zeros.
        let bob: Vec<&str> = lines[4].split_whitespace().collect();
        assert_eq!(bob[0], "bob");
        assert_eq!(bob[1], NONE);
        assert_eq!(bob[2], "connecting");
        assert!(bob[3..].iter().all(|c| *c == NONE), "{bob:?}");
    }

    #[test]
    fn narrow_terminal_drops_columns_instead_of_wrapping() {
        let lines = screen(&snapshot(), 50, 6);
        let head = &lines[2];
        for kept in ["STREAM", "STATE", "BITRATE", "REC"] {
            assert!(head.contains(kept), "{kept}: {head:?}");
        }
        for dropped in ["FILE", "LABEL"] {
            assert!(!head.contains(dropped), "{dropped}: {head:?}");
        }
        assert!(
            lines[3].starts_with("alice") && lines[3].contains("1:02:05"),
            "{lines:#?}"
        );
        assert!(
            lines[4].starts_with("bob"),
            "one line per guest: {lines:#?}"
        );
    }

    #[test]
    fn units() {
        assert_eq!(rate(0), NONE);
        assert_eq!(rate(312_400), "313k");
        assert_eq!(rate(2_500_000), "2.5M");
        assert_eq!(bytes(0), NONE);
        assert_eq!(bytes(1000), "1K");
        assert_eq!(bytes(5 << 20), "5.0M");
        assert_eq!(bytes(3 << 30), "3.0G");
        assert_eq!(duration(0.0), NONE);
        assert_eq!(duration(59.9), "0:59");
        assert_eq!(duration(3600.0), "1:00:00");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
