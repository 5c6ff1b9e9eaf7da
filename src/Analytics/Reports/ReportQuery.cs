using System.Globalization;

namespace Analytics.Reports;

internal enum ReportBy
{
    Day,
    Page,
    Referrer,
}

internal enum ReportFormat
{
    Csv,
    Json,
}

/// <summary>A daily report's range (site-local dates, inclusive), breakdown and format.</summary>
internal sealed record ReportQuery(DateOnly From, DateOnly To, ReportBy By, ReportFormat Format)
{
    public const int MaxDays = (5 * 366) + 1;

    /// <summary>Parses the query parameters; the field at fault and why when they are wrong. Missing dates mean the last 30 days.</summary>
    public static (ReportQuery? Query, string? Field, string? Error) Parse(string? from, string? to, string? by, string? format, DateOnly today)
    {
        var toDate = today;
        if (!string.IsNullOrEmpty(to) && !TryDate(to, out toDate))
        {
            return (null, "to", DateError("to"));
        }

        var fromDate = toDate.DayNumber - 29 >= Earliest.DayNumber ? toDate.AddDays(-29) : Earliest;
        if (!string.IsNullOrEmpty(from) && !TryDate(from, out fromDate))
        {
            return (null, "from", DateError("from"));
        }

        if (fromDate > toDate)
        {
            return (null, "from", "from must not be after to.");
        }

        if (toDate.DayNumber - fromDate.DayNumber + 1 > MaxDays)
        {
            return (null, "to", "A report covers at most 5 years (from … to).");
        }

        ReportBy? parsedBy = (by ?? "day").ToLowerInvariant() switch
        {
            "day" => ReportBy.Day,
            "page" => ReportBy.Page,
            "referrer" => ReportBy.Referrer,
            _ => null,
        };
        if (parsedBy is null)
        {
            return (null, "by", "by must be day, page or referrer.");
        }

        ReportFormat? parsedFormat = (format ?? "csv").ToLowerInvariant() switch
        {
            "csv" => ReportFormat.Csv,
            "json" => ReportFormat.Json,
            _ => null,
        };
        if (parsedFormat is null)
        {
            return (null, "format", "format must be csv or json.");
        }

        return (new ReportQuery(fromDate, toDate, parsedBy.Value, parsedFormat.Value), null, null);
    }

    public string FileName(string site) =>
        string.Create(CultureInfo.InvariantCulture, $"{site}-{By.ToString().ToLowerInvariant()}-{From:yyyy-MM-dd}-{To:yyyy-MM-dd}.{(Format == ReportFormat.Csv ? "csv" : "json")}");

    /// <summary>The dates a report can cover: those of ClickHouse's <c>Date</c> type.</summary>
    private static readonly DateOnly Earliest = new(1970, 1, 1);
    private static readonly DateOnly Latest = new(2149, 6, 6);

    private static string DateError(string field) =>
        $"{field} must be a date as YYYY-MM-DD, from {Earliest:yyyy-MM-dd} to {Latest:yyyy-MM-dd}.";

    private static bool TryDate(string text, out DateOnly date) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out date)
        && date >= Earliest && date <= Latest;
}
