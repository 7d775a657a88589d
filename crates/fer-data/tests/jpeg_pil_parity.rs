//! JPEG pixels equal to PIL's (libjpeg-turbo's islow IDCT and upsampling) on the FER2013
//! reference sample of ../shared/reference (the 40 test images of
//! mtcnn_fer2013_test_sample.csv), read from ../shared/datasets/fer2013 (or FER_FER2013);
//! skipped with a message when absent, required when FER_REQUIRE_SHARED=1.
//!
//! The expected sha256 of each image's pixels (row-major, one byte per pixel) came from
//! Pillow 13.0.0 built with libjpeg-turbo, in ../shared/datasets/fer2013:
//!
//! ```python
//! import csv, hashlib
//! from PIL import Image
//! import numpy as np
//! rows = csv.DictReader(open("../../reference/mtcnn_fer2013_test_sample.csv"))
//! for r in rows:
//!     im = Image.open("test/" + r["image"])
//!     assert im.mode == "L"
//!     print(r["image"], hashlib.sha256(np.asarray(im).tobytes()).hexdigest())
//! ```

use anyhow::Result;
use sha2::{Digest, Sha256};
mod common;

use common::shared_fer2013;

const PIL_SHA256: [(&str, &str); 40] = [
    (
        "angry/PrivateTest_26560060.jpg",
        "462920e97148400668d759eb3bf6e43f3d21d3f7609be96746f96f14d473787f",
    ),
    (
        "angry/PrivateTest_27681985.jpg",
        "fc4b438f7aa4ec17def6480e885cf4c9593939601467059cc3494cd2854c7e1f",
    ),
    (
        "angry/PrivateTest_46256137.jpg",
        "7887ae4ed0ea9df0a20a3d8a64dcc9f42b2ac2d4417c9bbd7b2823e8f1e7bad0",
    ),
    (
        "angry/PrivateTest_4690573.jpg",
        "07c08d7c6624962a1be4b8395493a25d7d2c07a829e571c3025a24ed6bae8bd7",
    ),
    (
        "angry/PrivateTest_69389869.jpg",
        "11d0a6724aab89615fe83489f176342739e7273d6961759deb242dc5e2cba3b5",
    ),
    (
        "angry/PrivateTest_94431780.jpg",
        "e36844b667ccc6d0ce45e3a7e37001d68f261a2e1f69f6f98cf7c6d633f01562",
    ),
    (
        "disgust/PrivateTest_21629266.jpg",
        "d398bf1c40fa9d9b08a3ed71d9f89972aa6969aa66dccfa69003b3fe5a0ba424",
    ),
    (
        "fear/PrivateTest_14546605.jpg",
        "f974a890998a72ccea4e98155130b0b5830fcdccebaadfe7d4d049d2da96f4a6",
    ),
    (
        "fear/PrivateTest_41804220.jpg",
        "7279f9767857411b947b7491e5ecf01a26049eb2edba21e3357424554f46f54d",
    ),
    (
        "fear/PrivateTest_42170787.jpg",
        "16d6176dd8fe5d6f99c0d0d7e911f8b339d0f200ada6cda51ce8eba1f9e1071f",
    ),
    (
        "fear/PrivateTest_43804431.jpg",
        "31bcae896c2f4afec9457458795d3cc0d704166ac6675f19c55231a9ebcc105b",
    ),
    (
        "fear/PrivateTest_4712911.jpg",
        "90c1ad5436764c00275fa1d83ff515283e8c9c5ec8dd3ef0e27da9ed97487d7f",
    ),
    (
        "fear/PrivateTest_77807334.jpg",
        "1dd2293dd6cd75dfd383aebc6dcccebdb1cde75ec6b8b082480ca54b737f3b1b",
    ),
    (
        "fear/PrivateTest_85674850.jpg",
        "caa3f53d39bbfb545458a68aac4697d4d4092679f06780178b6f3336ea82fa3f",
    ),
    (
        "happy/PrivateTest_11155116.jpg",
        "660c02e1a87ed18302a5395e26f274d73bfd44bfc7f926df64db51e60ca66e4b",
    ),
    (
        "happy/PrivateTest_14332357.jpg",
        "0b8a740246da6cdfbd58e3a24d70ca9a83d213bb87ac8852e953313812f73ecc",
    ),
    (
        "happy/PrivateTest_3333329.jpg",
        "68086a8edda9345c03baf728463d8c88ef032f0fd7b234be27944b25ada98cfc",
    ),
    (
        "happy/PrivateTest_36248019.jpg",
        "328fd4ddc608703e833fa18fb55b3f94b275f910d7af333c3663a1a5b93236d8",
    ),
    (
        "happy/PrivateTest_46585222.jpg",
        "f418cd89e2f10e8f2df6ec4bb16b079701d525a5c7188d435a79557456820cc4",
    ),
    (
        "happy/PrivateTest_7700982.jpg",
        "2d42bf411835df4f5615f53ee9f85ef820788c6fdf5a1739219b92ccff052c9e",
    ),
    (
        "happy/PrivateTest_80630832.jpg",
        "14aeeec18c5955dbfa8e5f1e9e86fc1dbdeb4edd67dca7795669e320890eb328",
    ),
    (
        "happy/PrivateTest_87455722.jpg",
        "41f431321d2a46846d5e2838063023a0a7d8de25c7a562a9daed770c6aa37f3b",
    ),
    (
        "neutral/PrivateTest_43120804.jpg",
        "26ace0eb0681634ca3ae92d4476a6db85c1a2f5bcc320145a8e3b3601aef4b36",
    ),
    (
        "neutral/PrivateTest_5499238.jpg",
        "56973ebcefa6460b87af26f8af445d05f1c424577689007af520718274d9c7df",
    ),
    (
        "neutral/PrivateTest_64208630.jpg",
        "bfa768f29fdf419fdf4d621aed2f133044af791f9be019991214086e0e1bbb1b",
    ),
    (
        "neutral/PrivateTest_70085308.jpg",
        "ef9529a0aaef70a7466a23b7ce64e078d67d519936ef1a9642de09cab7322495",
    ),
    (
        "neutral/PrivateTest_73298203.jpg",
        "f5332e0ce2f6f7b330190a34b3bea0fe4ec7ea298ab3c19ece382ff79bc6aeec",
    ),
    (
        "neutral/PrivateTest_76364090.jpg",
        "3fbea5b73addc5f1e8eb880abad01989a84255afec343eea23f6b0c8530008d4",
    ),
    (
        "neutral/PrivateTest_82249691.jpg",
        "0af6cc47fca48b4d1407f49b396efb7fc5470f7c86f9ff2b860e65b288e30955",
    ),
    (
        "neutral/PrivateTest_90730699.jpg",
        "24ff06990f5364743affc0f95e8ff0ed9dc46ec4f5698e0383867f6bf77b1e51",
    ),
    (
        "sad/PrivateTest_24153381.jpg",
        "aa4b3f63251ade9c9cb39a832129499ebbbf843c9ca35c102594b7accee558d7",
    ),
    (
        "sad/PrivateTest_43570474.jpg",
        "d58d845a3864fdeb88cd88a40636bc74d901fa6a8dea1505a5cab47c02ed357e",
    ),
    (
        "sad/PrivateTest_53800861.jpg",
        "bd8b63cca69a8ab50fe082b1f1de3fa0c4a229e3da7ac29f428028e60241e8c0",
    ),
    (
        "sad/PrivateTest_57288449.jpg",
        "845408084743c70bece738b660e68572d6b1495b789ebd61b2d6962c4699da4d",
    ),
    (
        "sad/PrivateTest_70680879.jpg",
        "90c1ad5436764c00275fa1d83ff515283e8c9c5ec8dd3ef0e27da9ed97487d7f",
    ),
    (
        "sad/PrivateTest_72799468.jpg",
        "ef3323d9c171ab2e376160a47c73967835a30ddb4017fc22f11f9fd3295615a4",
    ),
    (
        "sad/PrivateTest_76823681.jpg",
        "aab9cd7c529d5e29e2205b8e37bff0f282141d355eaf9e1ca73fb8ed47c33970",
    ),
    (
        "sad/PrivateTest_9966612.jpg",
        "bde560c1fc8aff8402f42982f57184bfe984efb815edad57a29d59ca3e1518bf",
    ),
    (
        "surprise/PrivateTest_23048354.jpg",
        "340df2c52905ae16b1c5e7f4dafe6da0e46ad914979b26390d19582b22deed7a",
    ),
    (
        "surprise/PrivateTest_74762386.jpg",
        "46ae5a39cd1d2c5c7c71dbf017e81ff4fff3bf7b278925717dcb30f3b1630f45",
    ),
];

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn fer2013_sample_decodes_to_pils_pixels() -> Result<()> {
    let Some(root) = shared_fer2013() else {
        return Ok(());
    };
    let mut image_crate_equal = 0;
    for (name, expected) in PIL_SHA256 {
        let path = root.join("test").join(name);
        let ours = fer_data::read_image(&path)?;
        let gray = ours.as_luma8().expect("FER2013 is grayscale");
        assert_eq!((gray.width(), gray.height()), (48, 48), "{name}");
        assert_eq!(
            sha256_hex(gray.as_raw()),
            expected,
            "{name}: pixels differ from PIL's"
        );
        // For the record: how often the `image` crate's own decoder agrees.
        if sha256_hex(image::open(&path)?.to_luma8().as_raw()) == expected {
            image_crate_equal += 1;
        }
    }
    eprintln!(
        "40 of 40 FER2013 sample images equal PIL's pixels; the image crate's decoder: {image_crate_equal} of 40"
    );
    Ok(())
}
