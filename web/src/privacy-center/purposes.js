/**
 * The purposes a customer grants, with the privacy policy's text for each, by language.
 *
 * The names are the data map's (`custody.declared.datamap.PURPOSE_DECLARATIONS`): tests/unit/
 * test_web_purposes.py fails when they drift apart. `POLICY_VERSION` is the policy a grant accepts
 * (`POST /v1/me/consents` records it with the grant); `objectable` purposes take an objection
 * (GDPR art. 21: direct marketing).
 * @module privacy-center/purposes
 */

export const POLICY_VERSION = "2026-11";

/**
 * @typedef {{name: string, essential: boolean, objectable: boolean,
 *            title: Record<string, string>, text: Record<string, string>}} PurposeText
 * (The categories each purpose covers come from the access report's `retention`, the data map's.)
 */

/** @type {readonly PurposeText[]} */
export const PURPOSES = Object.freeze([
  {
    name: "crm_core",
    essential: true,
    objectable: false,
    title: { en: "Your account and our relationship", vi: "Tài khoản và quan hệ khách hàng" },
    text: {
      en:
        "We keep who you are, how to reach you, your orders and support tickets, and the documents you give us, " +
        "to provide the service you signed up for (GDPR art. 6(1)(b), contract). Without it we cannot keep your account.",
      vi:
        "Chúng tôi lưu thông tin về bạn, cách liên hệ với bạn, đơn hàng, yêu cầu hỗ trợ và tài liệu bạn cung cấp " +
        "để cung cấp dịch vụ bạn đã đăng ký (GDPR điều 6(1)(b), hợp đồng). Thiếu mục đích này, chúng tôi không thể duy trì tài khoản của bạn.",
    },
  },
  {
    name: "marketing",
    essential: false,
    objectable: true,
    title: { en: "Offers and news", vi: "Ưu đãi và tin tức" },
    text: {
      en:
        "We send you offers on the channels, interests and language you choose (GDPR art. 6(1)(a), consent). " +
        "You can withdraw or object at any time; we then stop and erase your preferences.",
      vi:
        "Chúng tôi gửi ưu đãi qua các kênh, theo sở thích và ngôn ngữ bạn chọn (GDPR điều 6(1)(a), sự đồng ý). " +
        "Bạn có thể rút lại hoặc phản đối bất cứ lúc nào; khi đó chúng tôi dừng lại và xóa các lựa chọn của bạn.",
    },
  },
  {
    name: "payments",
    essential: false,
    objectable: false,
    title: { en: "A payment card on file", vi: "Lưu thẻ thanh toán" },
    text: {
      en:
        "We keep a payment card to charge your orders (GDPR art. 6(1)(b), contract). We show it back to you " +
        "only as its brand and last four digits.",
      vi:
        "Chúng tôi lưu một thẻ thanh toán để thu tiền đơn hàng của bạn (GDPR điều 6(1)(b), hợp đồng). " +
        "Chúng tôi chỉ hiển thị lại loại thẻ và bốn chữ số cuối.",
    },
  },
  {
    name: "health_services",
    essential: false,
    objectable: false,
    title: { en: "Health services", vi: "Dịch vụ y tế" },
    text: {
      en:
        "We keep your health conditions and allergies to provide health services, only with your explicit " +
        "consent (GDPR art. 9(2)(a)).",
      vi:
        "Chúng tôi lưu tình trạng sức khỏe và dị ứng của bạn để cung cấp dịch vụ y tế, chỉ khi có sự đồng ý " +
        "rõ ràng của bạn (GDPR điều 9(2)(a)).",
    },
  },
]);

/** The declaration of `name` (undefined for a purpose not shown here, e.g. `sharing:<id>`). @param {string} name */
export function purpose(name) {
  return PURPOSES.find((item) => item.name === name);
}
