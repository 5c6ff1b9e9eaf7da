using System.Text.Unicode;
using Analytics.Infrastructure;

namespace Analytics.Ingest;

internal static class RequestBody
{
    /// <summary>
    /// Reads the whole body, refusing (413) one over <paramref name="limit"/> bytes, declared or sent,
    /// and (400) an empty one or one that is not UTF-8 text.
    /// </summary>
    public static async Task<(ReadOnlyMemory<byte> Body, IResult? Problem)> ReadAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return (default, Problems.TooLarge(limit));
        }

        var buffer = new MemoryStream(request.ContentLength is > 0 and var length ? (int)length : 1024);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return (default, Problems.TooLarge(limit));
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return (default, Problems.Invalid("body", "The body is empty."));
        }

        var body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (!Utf8.IsValid(body.Span))
        {
            return (default, Problems.Invalid("body", "The body is not valid UTF-8 text."));
        }

        // A byte order mark is allowed in UTF-8 (some clients send one); JSON parsing wants none.
        if (body.Span.StartsWith("\uFEFF"u8))
        {
            body = body["\uFEFF"u8.Length..];
        }

        return (body, null);
    }
}
