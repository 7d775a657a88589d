//! Attention heat maps over faces (Fig. 4): normalisation, upsampling, colouring, the grid
//! chart and validation.

mod common;

use common::TempDir;
use fer_report::{plot_attention_maps, AttentionFace, AttentionMapChart, ReportError};

/// A 32x32 face (horizontal grey ramp) with a 4x4 map that peaks in the top-left cell and is
/// lowest in the bottom-right one.
fn face(caption: &str) -> AttentionFace {
    AttentionFace {
        image: (0..32 * 32).map(|i| ((i % 32) * 8) as u8).collect(),
        width: 32,
        height: 32,
        map: (0..16).map(|i| 10.0 - (i / 4 + i % 4) as f32).collect(),
        map_width: 4,
        map_height: 4,
        caption: caption.to_string(),
    }
}

#[test]
fn map_is_normalised_and_bilinearly_upsampled() -> anyhow::Result<()> {
    let f = face("happiness");
    let up = f.upsampled_map()?;
    assert_eq!(up.len(), 32 * 32);
    assert!(up.iter().all(|v| (0.0..=1.0).contains(v)));
    // Corners lie beyond the outer cell centres: clamped to the extreme cells, 1 and 0.
    assert!((up[0] - 1.0).abs() < 1e-6, "top-left {}", up[0]);
    assert!(up[32 * 32 - 1].abs() < 1e-6, "bottom-right {}", up[1023]);
    // Pixel (x=12, y=4): source x = 12.5/8 - 0.5 = 1.0625, y = 4.5/8 - 0.5 = 0.0625, and the
    // map is linear (10 - row - col, normalised by 6), so bilinear is exact.
    let want = (10.0 - 0.0625 - 1.0625 - 4.0) / 6.0;
    assert!(
        (up[4 * 32 + 12] - want).abs() < 1e-5,
        "{} vs {want}",
        up[4 * 32 + 12]
    );

    let flat = AttentionFace {
        map: vec![3.0; 16],
        ..face("flat")
    };
    assert!(flat.upsampled_map()?.iter().all(|&v| v == 0.0));
    Ok(())
}

#[test]
fn overlay_is_jet_blended_half_and_half() -> anyhow::Result<()> {
    let f = face("anger");
    let rgb = f.overlay_rgb()?;
    assert_eq!(rgb.len(), 32 * 32 * 3);
    // Top-left: grey 0, attention 1 = jet dark red (127.5, 0, 0) => (64, 0, 0).
    assert_eq!(&rgb[..3], &[64, 0, 0]);
    // Bottom-right: grey 248, attention 0 = jet dark blue (0, 0, 127.5) => (124, 124, 188).
    let last = 32 * 32 * 3 - 3;
    assert_eq!(&rgb[last..], &[124, 124, 188]);
    // The face adds the same grey to every channel, so red - blue is the heat colour's:
    // redder where attention is high (top-left), bluer where it is low (bottom-right).
    let red_minus_blue = |x: usize, y: usize| {
        let k = (y * 32 + x) * 3;
        i32::from(rgb[k]) - i32::from(rgb[k + 2])
    };
    assert!(red_minus_blue(3, 3) > 30, "{}", red_minus_blue(3, 3));
    assert!(red_minus_blue(28, 28) < -30, "{}", red_minus_blue(28, 28));
    let plain = f.face_rgb()?;
    assert_eq!(&plain[3 * 5..3 * 6], &[40, 40, 40]);
    Ok(())
}

#[test]
fn grid_chart_writes_png_and_svg() -> anyhow::Result<()> {
    let tmp = TempDir::new("attention");
    let faces: Vec<AttentionFace> = ["neutral", "happiness", "sadness", "surprise", "fear"]
        .into_iter()
        .map(face)
        .collect();
    let title = "RAF-DB: last SCAM of CMCNN";
    let chart = AttentionMapChart::new(&faces, 3, title)?;
    assert_eq!(chart.zoom(), 4, "32 px faces zoomed to >= 112 px");
    let (png, svg) = plot_attention_maps(&faces, 3, title, &tmp.path().join("att"))?;
    let bytes = std::fs::read(&png)?;
    assert!(bytes.len() > 1000, "png only {} bytes", bytes.len());
    let img = image::load_from_memory(&bytes)?.to_rgb8();
    assert_eq!(img.dimensions(), chart.size());

    // The pixels of face 1 land where the chart says: its plain image starts grey 0 (black)
    // and its overlay starts with the dark red of the top-left attention peak.
    let ((fx, fy), (ox, oy)) = chart
        .image_origins(1)
        .ok_or_else(|| anyhow::anyhow!("no face 1"))?;
    let at = |x: i32, y: i32| img.get_pixel(x as u32 + 1, y as u32 + 1).0;
    assert_eq!(at(fx, fy), [0, 0, 0]);
    assert_eq!(at(ox, oy), [64, 0, 0]);
    assert!(ox > fx, "overlay beside the face");
    let ((_, row2_y), _) = chart
        .image_origins(3)
        .ok_or_else(|| anyhow::anyhow!("no face 3"))?;
    assert!(row2_y > fy, "face 3 starts the second row of three columns");
    assert!(chart.image_origins(5).is_none());

    let text = std::fs::read_to_string(&svg)?;
    assert!(text.contains(title) && text.contains("surprise"));
    assert_eq!(
        text.matches("<image").count(),
        10,
        "face + overlay per cell"
    );
    assert!(text.contains("data:image/png;base64,iVBORw0KGgo"));

    let wide = AttentionMapChart::new(&faces, 5, title)?.size();
    assert!(wide.0 > chart.size().0 && wide.1 < chart.size().1);
    Ok(())
}

#[test]
fn rejects_inconsistent_sizes() {
    let tmp = TempDir::new("attention-bad");
    let stem = tmp.path().join("x");
    let short_map = AttentionFace {
        map: vec![0.0; 15],
        ..face("disgust")
    };
    let err = plot_attention_maps(&[face("a"), short_map], 2, "t", &stem).err();
    assert!(
        matches!(&err, Some(ReportError::AttentionMap { face, message })
            if face.contains("face 1") && face.contains("disgust") && message.contains("15 values")),
        "{err:?}"
    );
    let short_image = AttentionFace {
        image: vec![0; 10],
        ..face("fear")
    };
    assert!(matches!(
        short_image.overlay_rgb(),
        Err(ReportError::AttentionMap { .. })
    ));
    let nan = AttentionFace {
        map: (0..16)
            .map(|i| if i == 6 { f32::NAN } else { 0.0 })
            .collect(),
        ..face("nan")
    };
    let err = nan.validate().err();
    assert!(
        matches!(&err, Some(ReportError::AttentionMap { message, .. }) if message.contains("row 1, column 2")),
        "{err:?}"
    );
    let err = plot_attention_maps(&[face("a")], 0, "t", &stem).err();
    assert!(
        matches!(err, Some(ReportError::ChartInput { .. })),
        "{err:?}"
    );
    let err = plot_attention_maps(&[], 3, "t", &stem).err();
    assert!(
        matches!(err, Some(ReportError::ChartInput { .. })),
        "{err:?}"
    );
    assert!(!tmp.path().join("x.png").exists());
}
