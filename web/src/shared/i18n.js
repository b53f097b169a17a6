/**
 * Translations: English and Vietnamese, the language picked from the browser and switchable.
 *
 * The language is, in order: the one the person chose on this site (kept in localStorage under
 * `LANGUAGE_KEY` — a language code, nothing personal), the first of `navigator.languages` we
 * speak, English. `<html lang>` always says which. Apps add their own strings with `extend`;
 * `t(key, params)` fills `{name}` placeholders. A missing key shows the English string, then the
 * key itself, so a gap is visible but never breaks a page.
 * @module shared/i18n
 */

export const LANGUAGES = Object.freeze(["en", "vi"]);
export const LANGUAGE_KEY = "custody.language";

/** The language names, each in its own language (what a language switch shows). */
export const LANGUAGE_NAMES = Object.freeze({ en: "English", vi: "Tiếng Việt" });

/** @type {Record<string, Record<string, string>>} */
const dictionaries = {
  en: {
    "app.loading": "Loading…",
    "app.language": "Language",
    "app.skip": "Skip to the main content",
    "app.signOut": "Sign out",
    "app.error.network": "The service cannot be reached. Check your connection and try again.",
    "app.error.config": "This page is not configured correctly. Please try again later.",
    "form.required": "Required.",
    "form.fixErrors": "Please correct the highlighted fields.",
    "form.saving": "Saving…",
    "form.saved": "Saved.",
    "form.apiReason": "{reason}",
    "auth.email": "E-mail address",
    "auth.password": "Password",
    "auth.error.NotAuthorizedException": "The e-mail address or password is not right.",
    "auth.error.UserNotFoundException": "The e-mail address or password is not right.",
    "auth.error.UserNotConfirmedException": "Confirm your e-mail address first: enter the code we sent you.",
    "auth.error.UsernameExistsException": "An account with this e-mail address already exists. Sign in instead.",
    "auth.error.InvalidPasswordException":
      "The password must have at least 12 characters, with upper- and lower-case letters, a digit and a symbol.",
    "auth.error.InvalidParameterException": "Please check what you entered.",
    "auth.error.CodeMismatchException": "That code is not right. Check it and try again.",
    "auth.error.ExpiredCodeException": "That code has expired. Ask for a new one.",
    "auth.error.LimitExceededException": "Too many attempts. Please wait a while and try again.",
    "auth.error.TooManyRequestsException": "Too many attempts. Please wait a while and try again.",
    "auth.error.EnableSoftwareTokenMFAException": "That code is not right. Check it and try again.",
    "auth.error.other": "Signing in failed. Please try again.",
    "api.error.unauthenticated": "Your session has ended. Please sign in again.",
    "api.error.forbidden": "You are not allowed to do this.",
    "api.error.not_found": "Not found.",
    "api.error.throttled": "Too many requests. Please wait a moment and try again.",
    "api.error.invalid_input": "Please correct the highlighted fields.",
    "api.error.conflict": "This cannot be done in the current state. Reload the page and try again.",
    "api.error.precondition_failed": "Your data changed meanwhile. Reload the page and try again.",
    "api.error.processing_restricted": "You restricted processing: this is paused until you lift the restriction.",
    "api.error.consent_required": "This needs your consent to its purpose first.",
    "api.error.too_many_requests": "Too many requests. Please wait a moment and try again.",
    "api.error.service_busy": "The service is busy. Please try again in a moment.",
    "api.error.other": "Something went wrong ({code}). Please try again.",
  },
  vi: {
    "app.loading": "Đang tải…",
    "app.language": "Ngôn ngữ",
    "app.skip": "Chuyển đến nội dung chính",
    "app.signOut": "Đăng xuất",
    "app.error.network": "Không thể kết nối đến dịch vụ. Vui lòng kiểm tra kết nối và thử lại.",
    "app.error.config": "Trang này chưa được cấu hình đúng. Vui lòng thử lại sau.",
    "form.required": "Bắt buộc.",
    "form.fixErrors": "Vui lòng sửa các trường được đánh dấu.",
    "form.saving": "Đang lưu…",
    "form.saved": "Đã lưu.",
    // The API explains a refusal in English only: said so, with its words.
    "form.apiReason": "Giá trị không hợp lệ (bằng tiếng Anh: {reason})",
    "auth.email": "Địa chỉ e-mail",
    "auth.password": "Mật khẩu",
    "auth.error.NotAuthorizedException": "Địa chỉ e-mail hoặc mật khẩu không đúng.",
    "auth.error.UserNotFoundException": "Địa chỉ e-mail hoặc mật khẩu không đúng.",
    "auth.error.UserNotConfirmedException": "Hãy xác nhận địa chỉ e-mail trước: nhập mã chúng tôi đã gửi cho bạn.",
    "auth.error.UsernameExistsException": "Đã có tài khoản với địa chỉ e-mail này. Hãy đăng nhập.",
    "auth.error.InvalidPasswordException":
      "Mật khẩu phải có ít nhất 12 ký tự, gồm chữ hoa, chữ thường, chữ số và ký hiệu.",
    "auth.error.InvalidParameterException": "Vui lòng kiểm tra thông tin bạn đã nhập.",
    "auth.error.CodeMismatchException": "Mã không đúng. Vui lòng kiểm tra và thử lại.",
    "auth.error.ExpiredCodeException": "Mã đã hết hạn. Hãy yêu cầu mã mới.",
    "auth.error.LimitExceededException": "Quá nhiều lần thử. Vui lòng đợi một lúc rồi thử lại.",
    "auth.error.TooManyRequestsException": "Quá nhiều lần thử. Vui lòng đợi một lúc rồi thử lại.",
    "auth.error.EnableSoftwareTokenMFAException": "Mã không đúng. Vui lòng kiểm tra và thử lại.",
    "auth.error.other": "Đăng nhập không thành công. Vui lòng thử lại.",
    "api.error.unauthenticated": "Phiên làm việc đã kết thúc. Vui lòng đăng nhập lại.",
    "api.error.forbidden": "Bạn không được phép thực hiện thao tác này.",
    "api.error.not_found": "Không tìm thấy.",
    "api.error.throttled": "Quá nhiều yêu cầu. Vui lòng đợi một chút rồi thử lại.",
    "api.error.invalid_input": "Vui lòng sửa các trường được đánh dấu.",
    "api.error.conflict": "Không thể thực hiện trong trạng thái hiện tại. Hãy tải lại trang và thử lại.",
    "api.error.precondition_failed": "Dữ liệu của bạn vừa thay đổi. Hãy tải lại trang và thử lại.",
    "api.error.processing_restricted": "Bạn đã hạn chế xử lý: thao tác này tạm dừng cho đến khi bạn bỏ hạn chế.",
    "api.error.consent_required": "Thao tác này cần sự đồng ý của bạn cho mục đích tương ứng trước.",
    "api.error.too_many_requests": "Quá nhiều yêu cầu. Vui lòng đợi một chút rồi thử lại.",
    "api.error.service_busy": "Dịch vụ đang bận. Vui lòng thử lại sau giây lát.",
    "api.error.other": "Đã xảy ra lỗi ({code}). Vui lòng thử lại.",
  },
};

let current = "en";
/** @type {Set<(language: string) => void>} */
const listeners = new Set();

/**
 * Add an app's strings (by language); later keys override earlier ones.
 * @param {Record<string, Record<string, string>>} added
 */
export function extend(added) {
  for (const [language, strings] of Object.entries(added)) {
    dictionaries[language] = { ...(dictionaries[language] ?? {}), ...strings };
  }
}

/**
 * The string `key` in the current language with `{name}` placeholders filled.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const template = dictionaries[current]?.[key] ?? dictionaries.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Whether `key` has a string (in English at least). @param {string} key */
export function has(key) {
  return key in dictionaries.en;
}

/** The current language code. */
export function language() {
  return current;
}

/**
 * The language to start with: the remembered choice, else the browser's preference, else English.
 * @param {readonly string[]} [preferred] navigator.languages
 * @param {Storage | null} [storage] where the choice is remembered
 * @returns {string}
 */
export function pick(preferred = globalThis.navigator?.languages ?? [], storage = safeStorage()) {
  const chosen = storage?.getItem(LANGUAGE_KEY);
  if (chosen && LANGUAGES.includes(chosen)) return chosen;
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

/**
 * Switch the language: sets `<html lang>`, remembers a choice the person made, tells the listeners.
 * @param {string} code one of `LANGUAGES`
 * @param {{remember?: boolean}} [options]
 */
export function setLanguage(code, { remember = true } = {}) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  document.documentElement.lang = code;
  if (remember) safeStorage()?.setItem(LANGUAGE_KEY, code);
  for (const listener of listeners) listener(code);
}

/**
 * Call `listener` after every switch (to re-render). Returns the unsubscribe function.
 * @param {(language: string) => void} listener
 */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Start with `pick()`'s language (not remembered: the browser chose it, not the person). */
export function init() {
  setLanguage(pick(), { remember: false });
}

/**
 * A date-time for people, in the current language (the API sends ISO 8601).
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function formatDate(iso) {
  if (!iso) return "—";
  const parsed = new Date(iso);
  if (Number.isNaN(parsed.getTime())) return String(iso);
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(String(iso));
  const options = dateOnly
    ? { dateStyle: "long", timeZone: "UTC" }
    : { dateStyle: "medium", timeStyle: "short" };
  return new Intl.DateTimeFormat(current === "vi" ? "vi-VN" : "en-GB", options).format(parsed);
}

function safeStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
