using System.Globalization;
using System.Text;

namespace Analytics.LoadTests.Reporting;

/// <summary>A small Markdown writer for result summaries.</summary>
internal sealed class Markdown
{
    private readonly StringBuilder _text = new();

    public Markdown Heading(string text, int level = 1)
    {
        _text.Append('#', level).Append(' ').AppendLine(text).AppendLine();
        return this;
    }

    public Markdown Line(string text)
    {
        _text.AppendLine(text);
        return this;
    }

    public Markdown Paragraph(string text)
    {
        _text.AppendLine(text).AppendLine();
        return this;
    }

    public Markdown Code(string text)
    {
        _text.AppendLine("```").AppendLine(text.TrimEnd()).AppendLine("```").AppendLine();
        return this;
    }

    public Markdown Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        _text.Append("| ").AppendJoin(" | ", header).AppendLine(" |");
        _text.Append('|').AppendJoin("", header.Select(_ => "---|")).AppendLine();
        foreach (var row in rows)
        {
            _text.Append("| ").AppendJoin(" | ", row.Select(c => c.Replace("|", "\\|", StringComparison.Ordinal))).AppendLine(" |");
        }

        _text.AppendLine();
        return this;
    }

    public override string ToString() => _text.ToString();

    public static string N(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);
}
