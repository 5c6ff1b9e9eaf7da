using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Analytics.Reports;

/// <summary>
/// Writes report rows as CSV (RFC 4180: header row, CRLF, fields quoted when they hold a comma,
/// quote, CR or LF, quotes doubled; UTF-8) or as a JSON array, flushing as it goes so a report
/// of any size streams in constant memory.
/// </summary>
internal static class ReportWriter
{
    private const int FlushEvery = 1000;

    public static string ContentType(ReportFormat format) => format == ReportFormat.Csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";

    public static string[] Columns(ReportBy by) => by switch
    {
        ReportBy.Day => ["date", "views", "visitors"],
        ReportBy.Page => ["date", "path", "views"],
        _ => ["date", "referrer", "views"],
    };

    /// <summary>Writes every row; <paramref name="progress"/> hears the running count now and then. Returns the rows written.</summary>
    public static async Task<long> WriteAsync(Stream output, IAsyncEnumerable<ReportRow> rows, ReportBy by, ReportFormat format, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        var columns = Columns(by);
        long count = 0;
        Utf8JsonWriter? json = null;
        if (format == ReportFormat.Json)
        {
            json = new Utf8JsonWriter(buffer);
            json.WriteStartArray();
        }
        else
        {
            WriteCsvLine(buffer, columns);
        }

        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            var date = row.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            if (json is not null)
            {
                json.WriteStartObject();
                json.WriteString("date", date);
                if (by == ReportBy.Day)
                {
                    json.WriteNumber("views", row.Views);
                    json.WriteNumber("visitors", row.Visitors);
                }
                else
                {
                    json.WriteString(columns[1], row.Key);
                    json.WriteNumber("views", row.Views);
                }

                json.WriteEndObject();
            }
            else
            {
                var views = row.Views.ToString(CultureInfo.InvariantCulture);
                WriteCsvLine(buffer, by == ReportBy.Day
                    ? [date, views, row.Visitors.ToString(CultureInfo.InvariantCulture)]
                    : [date, row.Key ?? "", views]);
            }

            if (++count % FlushEvery == 0)
            {
                json?.Flush();
                await output.WriteAsync(buffer.WrittenMemory, cancellationToken);
                await output.FlushAsync(cancellationToken);
                buffer.ResetWrittenCount();
                progress?.Invoke(count);
            }
        }

        if (json is not null)
        {
            json.WriteEndArray();
            json.Flush();
            await json.DisposeAsync();
        }

        await output.WriteAsync(buffer.WrittenMemory, cancellationToken);
        await output.FlushAsync(cancellationToken);
        progress?.Invoke(count);
        return count;
    }

    private static void WriteCsvLine(ArrayBufferWriter<byte> buffer, ReadOnlySpan<string> fields)
    {
        for (var i = 0; i < fields.Length; i++)
        {
            if (i > 0)
            {
                Write(buffer, ",");
            }

            var field = fields[i];
            if (field.AsSpan().IndexOfAny(",\"\r\n") >= 0)
            {
                Write(buffer, "\"");
                Write(buffer, field.Replace("\"", "\"\"", StringComparison.Ordinal));
                Write(buffer, "\"");
            }
            else
            {
                Write(buffer, field);
            }
        }

        Write(buffer, "\r\n");
    }

    private static void Write(ArrayBufferWriter<byte> buffer, string text)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        Encoding.UTF8.GetBytes(text, buffer.GetSpan(bytes));
        buffer.Advance(bytes);
    }
}
