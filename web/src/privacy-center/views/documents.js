/**
 * Documents: upload (`POST /v1/me/documents`, the file as base64, at most 4 MiB) and download
 * (`GET /v1/me/documents/{id}` with the token, saved under the name it was uploaded with). The list is
 * the access report's `documents` store, paged on with its cursor.
 * @module privacy-center/views/documents
 */
import { ApiError, idempotencyKey } from "../../shared/api.js";
import { t } from "../../shared/i18n.js";
import { announce, errorMessage, field, h } from "../../shared/ui.js";
import { page, submit, text } from "./common.js";
import { pager } from "./paging.js";

export const title = "center.documents.title";
export const MAX_BYTES = 4 * 1024 * 1024;

/**
 * The file's bytes in base64 (RFC 4648), read in chunks.
 * @param {Blob} file
 * @returns {Promise<string>}
 */
export async function base64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

/** The file name of a `Content-Disposition: attachment; filename="..."` header. @param {string | null} header */
export function fileName(header) {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header ?? "");
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header ?? "");
  return plain ? plain[1] : "document";
}

/** @param {import("../main.js").Context} ctx @param {HTMLElement} main */
export async function render(ctx, main) {
  const report = await ctx.report();
  const upload = field({ name: "file", label: t("center.documents.file"), type: "file", required: true, hint: t("center.documents.hint") });
  const form = h(
    "form",
    {
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        void submit(form, async () => {
          const file = upload.input.files?.[0];
          // Checked here too, in the API's error shape, so the message shows under the field.
          if (!file) throw new ApiError(0, "invalid_input", "", { fields: [{ field: "file", reason: t("form.required") }] });
          if (file.size > MAX_BYTES) {
            throw new ApiError(0, "invalid_input", "", { fields: [{ field: "file", reason: t("center.documents.tooBig") }] });
          }
          const receipt = await ctx.api.post(
            "/v1/me/documents",
            { file_name: file.name, content_type: file.type || "application/octet-stream", content_base64: await base64(file) },
            { "Idempotency-Key": idempotencyKey() },
          );
          announce(t("center.documents.uploaded", { size: receipt.size_bytes }), "success");
          ctx.go("documents");
        }, { aliases: { file_name: "file", content_type: "file" } });
      },
    },
    upload.root,
    h("div", { class: "actions" }, h("button", { type: "submit" }, t("center.documents.upload"))),
  );

  const download = async (button, item) => {
    button.disabled = true;
    try {
      const response = await ctx.api.call(`/v1/me/documents/${encodeURIComponent(item.document_id)}`, { raw: true });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: fileName(response.headers.get("Content-Disposition")), hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      announce(t("center.documents.downloaded"), "success");
    } catch (error) {
      announce(errorMessage(error), "error");
    } finally {
      button.disabled = false;
    }
  };

  const list = pager(ctx, "documents", report.stores?.documents, (items, offset) =>
    h(
      "ul",
      { class: "documents" },
      items.map((item, index) =>
        h(
          "li",
          {},
          t("center.documents.item", { number: offset + index + 1, at: text("stored_at", item.stored_at), size: item.size_bytes }),
          " ",
          h(
            "button",
            { type: "button", class: "secondary", onclick: (event) => download(event.currentTarget, item) },
            t("center.documents.download", { number: offset + index + 1 }),
          ),
        ),
      ),
    ),
  );
  page(
    main,
    title,
    "center.documents.lead",
    h("section", { class: "card", "aria-labelledby": "documents-upload" }, h("h2", { id: "documents-upload" }, t("center.documents.new")), form),
    h("section", { class: "card", "aria-labelledby": "documents-held" }, h("h2", { id: "documents-held" }, t("center.documents.held")), list),
  );
}
