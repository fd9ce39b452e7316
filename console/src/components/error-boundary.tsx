import { Component, type ReactNode } from 'react';

/** A bug in a page shows as a message with a way back, never as a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error?: Error }> {
  override state: { error?: Error } = {};

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="error" role="alert">
        <p>
          <strong>The console hit a bug:</strong> {this.state.error.message}
        </p>
        <p>
          <a href="/console/">Back to the providers</a>
        </p>
      </div>
    );
  }
}
